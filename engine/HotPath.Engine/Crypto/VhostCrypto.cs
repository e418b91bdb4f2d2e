namespace HotPath.Engine.Crypto;

/// <summary>
/// The virtio-crypto side of one device (DPDK's struct vhost_crypto, made by rte_vhost_crypto_create): its session
/// table, which CREATE/CLOSE_CRYPTO_SESSION fill, and the counters of refused session messages by reason. HotPath
/// makes one for every connection of a driver registered for crypto (<c>VhostDriver.EnableCrypto</c>), so sessions
/// can never arrive before it exists.
/// </summary>
public sealed partial class VhostCrypto : IDisposable
{
    private readonly long[] _sessionRefusals = new long[Enum.GetValues<CryptoSessionError>().Length];

    public VhostCrypto(int maxSessions = CryptoSessionTable.DefaultCapacity)
    {
        Sessions = new CryptoSessionTable(maxSessions);
    }

    public CryptoSessionTable Sessions { get; }

    /// <summary>Session messages refused for <paramref name="e"/> since the device was made.</summary>
    public long SessionRefusals(CryptoSessionError e) => Interlocked.Read(ref _sessionRefusals[(int)e]);

    internal void CountSessionRefusal(CryptoSessionError e) => Interlocked.Increment(ref _sessionRefusals[(int)e]);

    /// <summary>CREATE_CRYPTO_SESSION: the new id, or the reason (counted).</summary>
    public CryptoSessionError CreateSession(in CryptoSessionRequest request, out ulong id)
    {
        CryptoSessionError e = Sessions.Create(request, out id);
        if (e != CryptoSessionError.None) CountSessionRefusal(e);
        return e;
    }

    /// <summary>CLOSE_CRYPTO_SESSION: None, or the reason (counted).</summary>
    public CryptoSessionError CloseSession(ulong id)
    {
        CryptoSessionError e = Sessions.Close(id);
        if (e != CryptoSessionError.None) CountSessionRefusal(e);
        return e;
    }

    public void Dispose()
    {
        DisposeQueues();
        Sessions.CloseAll();
    }
}
