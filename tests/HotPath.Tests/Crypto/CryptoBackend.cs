using HotPath.Engine.Crypto;
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
/// with CRYPTO_SESSION and REPLY_ACK. The device's <see cref="VhostCrypto"/> is reachable for its counters.
/// </summary>
internal sealed class CryptoBackend : IDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    public const ulong WantedProtocolFeatures = (1UL << ProtocolFeatures.CryptoSession) | (1UL << ProtocolFeatures.ReplyAck);

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

    public void Dispose()
    {
        Frontend.Dispose();
        try { Driver.Unregister(); } catch (VhostException) { }
    }
}
