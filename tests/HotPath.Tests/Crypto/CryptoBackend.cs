using HotPath.Engine;
using HotPath.Engine.Crypto;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Engine.Virtio;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Protocol.Wire;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Protocol;

namespace HotPath.Tests.Crypto;

/// <summary>
/// HotPath's backend registered for virtio-crypto (in this process) and HotPath's frontend connected to it over a
/// real Unix socket, negotiated as QEMU's cryptodev-vhost-user does: SET_OWNER, GET_FEATURES, GET/SET_PROTOCOL_FEATURES
/// with CRYPTO_SESSION, REPLY_ACK and LOG_SHMFD. The device's <see cref="VhostCrypto"/> is reachable for its counters.
/// </summary>
internal sealed class CryptoBackend : IDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    // LOG_SHMFD: as QEMU, which sends SET_LOG_BASE when a migration starts.
    public const ulong WantedProtocolFeatures =
        (1UL << ProtocolFeatures.CryptoSession) | (1UL << ProtocolFeatures.ReplyAck) | (1UL << ProtocolFeatures.LogShmfd);

    public VhostDriver Driver { get; }
    public DeviceEventLog Events { get; } = new();
    public VhostUserFrontend Frontend { get; }
    public VhostSession Session { get; }
    public VhostCrypto Crypto => Session.Device.Crypto!;

    public CryptoBackend(string tag, int maxSessions = CryptoSessionTable.DefaultCapacity, bool replyAck = true)
    {
        Driver = VhostDriver.Register(DpdkBackend.NewSocketPath(tag), VhostDriverFlags.None);
        Driver.EnableCrypto(maxSessions);
        Driver.RegisterCallbacks(Events);
        Driver.Start();
        Frontend = VhostUserFrontend.Connect(Driver.Path, Wait);
        Frontend.SetOwner();
        Assert.Equal(VirtioFeatures.CryptoSupported, Frontend.GetFeatures());
        ulong offered = Frontend.GetProtocolFeatures();
        Assert.True(ProtocolFeatures.Has(offered, ProtocolFeatures.CryptoSession), ProtocolFeatures.Describe(offered));
        Frontend.SetProtocolFeatures(offered & (replyAck ? WantedProtocolFeatures : 1UL << ProtocolFeatures.CryptoSession));
        Assert.True(SpinWait.SpinUntil(() => Driver.Sessions.Count == 1, Wait));
        Session = Driver.Sessions[0];
    }

    public VhostDevice Device => Session.Device;

    /// <summary>Starts the device with one data queue (vring 0) on <paramref name="ring"/>, as QEMU's
    /// cryptodev-vhost-user with queues=1, and waits for new_device.</summary>
    public void Start(FrontendMemory memory, SplitRingDriver ring, bool indirect = true)
    {
        // LOG_ALL only when a test turns dirty logging on (VhostUserFrontend.EnableLogging).
        ulong features = Frontend.BackendFeatures & ~(indirect ? 0 : 1UL << VirtioFeatures.RingIndirectDesc) & ~(1UL << VirtioFeatures.LogAll);
        Frontend.SetFeatures(features);
        Frontend.SetMemTable(memory);
        Frontend.SetVringNum(0, ring.Size);
        Frontend.SetVringBase(0, ring.Areas.BaseIndex);
        Frontend.SetVringAddr(0, ring.Areas, memory);
        Frontend.SetVringKick(0, ring.KickFd);
        Frontend.SetVringCall(0, ring.CallFd);
        Frontend.SetVringEnable(0, true);
        Events.WaitFor("new_device", Wait);
        DeviceWaits.Running(Session);
    }

    /// <summary>
    /// Plays the backend application once: fetches what the guest made available on queue 0, runs it through the
    /// built-in engine and finalizes it. Returns how many requests it finalized.
    /// </summary>
    public int Serve(Span<CryptoRequest> scratch)
    {
        int n = Device.FetchCryptoRequests(0, scratch);
        if (n == 0) return 0;
        Crypto.Process(scratch[..n]);
        int done = Device.FinalizeCryptoRequests(scratch[..n]);
        Assert.Equal(n, done);
        return done;
    }

    public void Dispose()
    {
        Frontend.Dispose();
        try { Driver.Unregister(); } catch (VhostException) { }
    }
}
