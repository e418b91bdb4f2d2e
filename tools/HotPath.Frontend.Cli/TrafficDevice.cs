using System.Diagnostics;
using HotPath.Engine.Virtio;
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
    private static readonly ulong RingFeatureMask =
        VirtioFeatures.Bit(VirtioFeatures.Version1) | VirtioFeatures.Bit(VirtioFeatures.NetMrgRxbuf) |
        VirtioFeatures.Bit(VirtioFeatures.RingEventIdx) | VirtioFeatures.Bit(VirtioFeatures.RingPacked);

    private readonly SplitNetDevice _device;

    private TrafficDevice(SplitNetDevice device) => _device = device;

    /// <summary>Connects to <paramref name="socket"/> (waiting for it up to <paramref name="connectTimeout"/>) and starts
    /// the device; the connection must end up with exactly the ring features the drivers are built for.
    /// <paramref name="iommu"/>: IOTLB mode (IOMMU_PLATFORM, all memory mapped at IOVA = GPA).</summary>
    public static TrafficDevice Open(string socket, TimeSpan connectTimeout, bool iommu = false) =>
        new(SplitNetDevice.Open(socket, connectTimeout, 32UL << 20, RingSize, BufferSize, d =>
        {
            if (iommu) d.StartIommu();
            else d.Start();
            if ((d.Frontend.AckedFeatures & RingFeatureMask) != (SplitNetDevice.Features & RingFeatureMask))
                throw new NotSupportedException($"the backend acked {VirtioFeatures.Describe(d.Frontend.AckedFeatures)}; the rings are built for " +
                    VirtioFeatures.Describe(SplitNetDevice.Features));
        }));

    /// <summary>Drives <paramref name="direction"/> for <paramref name="duration"/>; returns the packets sent and received.</summary>
    public (long Tx, long Rx, double Seconds) Run(Direction direction, int packetLength, TimeSpan duration)
    {
        byte[] frame = Frames.Udp(packetLength);
        byte[] header = new byte[_device.Tx.HeaderSize];   // no offloads: all zero
        byte[] received = new byte[BufferSize * 64];
        bool send = direction != Direction.Enqueue, receive = direction != Direction.Dequeue;
        long tx = 0, rx = 0;
        if (receive)
        {
            _device.Rx.FillRx(BufferSize);
            _device.Rx.Publish();
        }
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            if (send)
            {
                while (_device.Tx.PostTx(header, frame)) { }
                _device.Tx.Publish();
                tx += _device.Tx.ReapTx();
            }
            if (receive)
            {
                bool any = false;
                while (_device.Rx.TryReceive(received, out RxInfo info))
                {
                    if (info.UsedLen != 0) rx++;
                    any = true;
                }
                if (any)
                {
                    _device.Rx.FillRx(BufferSize);
                    _device.Rx.Publish();
                }
            }
        }
        return (tx, rx, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Stops the device as QEMU does (the backend sees destroy_device), then closes everything.</summary>
    public void Dispose() => _device.StopAndDispose();
}
