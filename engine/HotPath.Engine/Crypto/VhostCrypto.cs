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

    /// <summary>
    /// Zero-copy (DPDK's rte_vhost_crypto_set_zero_copy): a cipher-only request whose source and destination each lie
    /// in one run of host memory is not copied out: finalize runs it from the guest's source straight into its
    /// destination, under the vring's lock (the memory cannot be unmapped meanwhile), with the lengths and IV read at
    /// fetch. Other requests are copied as always. Only with the built-in engine (<see cref="Process"/>).
    /// </summary>
    public bool ZeroCopy { get; set; }

    /// <summary>True when zero-copy can run here (libcrypto.so.3 loads).</summary>
    public static bool ZeroCopyAvailable => ZeroCopyCipher.Available();

    /// <summary>Requests run in place on guest memory since the device was made.</summary>
    public long ZeroCopied => Interlocked.Read(ref _zeroCopied);

    private long _zeroCopied;

    internal void CountZeroCopied() => _zeroCopied++;

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
