using System.Diagnostics;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;

namespace HotPath.Frontend.Cli;

/// <summary>
/// One virtio-net device driven from the frontend side: memfd guest memory, a split RX ring (vring 0) and TX ring
/// (vring 1) of 1024 entries, and the vhost-user connection that hands them to the backend. The backend polls, so
/// the drivers' kicks and the backend's calls are not waited for.
/// </summary>
internal sealed class TrafficDevice : IDisposable
{
    private const uint RingSize = 1024;
    private const uint BufferSize = 2048;
    /// <summary>The features the drivers are built for; the connection must end up with exactly these ring features.</summary>
    private static readonly ulong DriverFeatures = NetDeviceOptions.DefaultFeatures;
    private static readonly ulong RingFeatureMask =
        VirtioFeatures.Bit(VirtioFeatures.Version1) | VirtioFeatures.Bit(VirtioFeatures.NetMrgRxbuf) |
        VirtioFeatures.Bit(VirtioFeatures.RingEventIdx) | VirtioFeatures.Bit(VirtioFeatures.RingPacked);

    private readonly FrontendMemory _memory;
    private readonly SplitRingDriver _rx, _tx;
    private readonly VhostUserFrontend _frontend;

    private TrafficDevice(FrontendMemory memory, SplitRingDriver rx, SplitRingDriver tx, VhostUserFrontend frontend)
    {
        _memory = memory;
        _rx = rx;
        _tx = tx;
        _frontend = frontend;
    }

    /// <summary>Connects to <paramref name="socket"/> (waiting for it up to <paramref name="connectTimeout"/>) and starts the device.</summary>
    public static TrafficDevice Open(string socket, TimeSpan connectTimeout)
    {
        FrontendMemory? mem = null;
        SplitRingDriver? rx = null, tx = null;
        VhostUserFrontend? fe = null;
        try
        {
            mem = FrontendMemory.Create(32UL << 20);
            var options = new RingDriverOptions { Size = RingSize, BufferSize = BufferSize, Features = DriverFeatures, MaxIndirect = 0 };
            rx = new SplitRingDriver(mem, options);
            tx = new SplitRingDriver(mem, options);
            fe = VhostUserFrontend.Connect(socket, connectTimeout);
            fe.Start(mem, new IRingLayout[] { rx.Areas, tx.Areas }, new NetDeviceOptions { WantedFeatures = DriverFeatures });
            if ((fe.AckedFeatures & RingFeatureMask) != (DriverFeatures & RingFeatureMask))
                throw new NotSupportedException($"the backend acked {VirtioFeatures.Describe(fe.AckedFeatures)}; the rings are built for " +
                    VirtioFeatures.Describe(DriverFeatures));
            return new TrafficDevice(mem, rx, tx, fe);
        }
        catch
        {
            fe?.Dispose();
            rx?.Dispose();
            tx?.Dispose();
            mem?.Dispose();
            throw;
        }
    }

    /// <summary>Drives <paramref name="direction"/> for <paramref name="duration"/>; returns the packets sent and received.</summary>
    public (long Tx, long Rx, double Seconds) Run(Direction direction, int packetLength, TimeSpan duration)
    {
        byte[] frame = Frames.Udp(packetLength);
        byte[] header = new byte[_tx.HeaderSize];   // no offloads: all zero
        byte[] received = new byte[BufferSize * 64];
        bool send = direction != Direction.Enqueue, receive = direction != Direction.Dequeue;
        long tx = 0, rx = 0;
        if (receive)
        {
            _rx.FillRx(BufferSize);
            _rx.Publish();
        }
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            if (send)
            {
                while (_tx.PostTx(header, frame)) { }
                _tx.Publish();
                tx += _tx.ReapTx();
            }
            if (receive)
            {
                bool any = false;
                while (_rx.TryReceive(received, out RxInfo info))
                {
                    if (info.UsedLen != 0) rx++;
                    any = true;
                }
                if (any)
                {
                    _rx.FillRx(BufferSize);
                    _rx.Publish();
                }
            }
        }
        return (tx, rx, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Stops the device as QEMU does (the backend sees destroy_device), then closes everything.</summary>
    public void Dispose()
    {
        try
        {
            if (!_frontend.IsBroken) _frontend.Stop();
        }
        finally
        {
            _frontend.Dispose();
            _rx.Dispose();
            _tx.Dispose();
            _memory.Dispose();
        }
    }
}
