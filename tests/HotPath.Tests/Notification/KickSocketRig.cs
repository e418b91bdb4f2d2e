using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Tests.Datapath;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Protocol;

namespace HotPath.Tests.Notification;

/// <summary>
/// Interrupt mode over a real Unix socket: HotPath's backend (server mode, in this process) and HotPath's frontend
/// with one queue pair of split or packed rings, with or without EVENT_IDX. The guest's TX driver decides to kick as
/// virtio drivers do (from the device's suppression fields, after a full fence), and a kick it decides on is written
/// to the eventfd the frontend passed with SET_VRING_KICK, which the backend holds. The test thread plays the guest
/// and the backend application.
/// </summary>
internal sealed class KickSocketRig : IDisposable
{
    public static readonly TimeSpan Wait = SocketDevice.Wait;
    public const int TxVring = 1;

    private readonly SocketDevice _socket;
    public FrontendMemory Memory { get; }
    public IRingDriver Rx { get; }
    public IRingDriver Tx { get; }
    public VhostUserFrontend Frontend => _socket.Frontend;
    public VhostDevice Device => _socket.Device;
    public Mempool Pool { get; }

    /// <summary>Kicks the guest's TX driver decided on (and wrote to the backend's kick fd).</summary>
    public long GuestKicks;

    private readonly byte[] _header, _frame = new byte[64];
    private readonly nint[] _burst = new nint[32];

    public KickSocketRig(string tag, bool packed, bool eventIdx, uint ringSize = 256)
    {
        ulong features = NetDeviceOptions.DefaultFeatures
                         | (eventIdx ? VirtioFeatures.Bit(VirtioFeatures.RingEventIdx) : 0)
                         | (packed ? VirtioFeatures.Bit(VirtioFeatures.RingPacked) : 0);
        Memory = FrontendMemory.Create(new ulong[] { 16 << 20 });
        var o = new RingDriverOptions { Size = ringSize, BufferSize = 2048, Features = features, Region = 0 };
        Rx = packed ? new PackedRingDriver(Memory, o) : new SplitRingDriver(Memory, o);
        Tx = packed ? new PackedRingDriver(Memory, o) : new SplitRingDriver(Memory, o);
        _header = new byte[Tx.HeaderSize];
        _socket = new SocketDevice(tag, Memory, new[] { Rx.Areas, Tx.Areas }, new NetDeviceOptions { WantedFeatures = features });
        DeviceWaits.Running(_socket.Session);
        Assert.Equal(eventIdx, VirtioFeatures.Has(Device.Features, VirtioFeatures.RingEventIdx));
        Assert.Equal(packed, VirtioFeatures.Has(Device.Features, VirtioFeatures.RingPacked));
        Pool = TestPools.Create(1024);
    }

    public Vring TxRing => Device.GetVring(TxVring)!;

    /// <summary>The backend's copy of the TX kick fd (what hp_vhost_get_vhost_vring().kickfd returns).</summary>
    public int BackendKickFd => TxRing.KickFd;

    /// <summary>The guest posts <paramref name="packets"/> TX packets and publishes them, kicking when its driver
    /// decides to. Returns true when it kicked.</summary>
    public bool GuestSend(int packets = 1)
    {
        Tx.ReapTx();
        for (int i = 0; i < packets; i++) Assert.True(Tx.PostTx(_header, _frame), "the guest TX ring is full");
        if (!Tx.Publish()) return false;
        Assert.True(Frontend.Notifiers[TxVring].Kick());
        GuestKicks++;
        return true;
    }

    /// <summary>The backend application's poll: dequeue bursts until the TX ring is empty; returns the packets.</summary>
    public unsafe int PollUntilEmpty()
    {
        int total = 0;
        while (true)
        {
            ushort n = Device.DequeueBurst(TxVring, Pool, _burst);
            if (n == 0) return total;
            fixed (nint* p = _burst) MbufOps.FreeBulk((Mbuf**)p, n);
            total += n;
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for the backend's kick fd to become readable (poll(2), as
    /// an application does); true when it did.</summary>
    public bool WaitForKick(int timeoutMs) => PollCalls.WaitReadable(BackendKickFd, timeoutMs) > 0;

    public void Dispose()
    {
        _socket.Dispose();
        Rx.Dispose();
        Tx.Dispose();
        Memory.Dispose();
        Pool.Dispose();
    }
}
