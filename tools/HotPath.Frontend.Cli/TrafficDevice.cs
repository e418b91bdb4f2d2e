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

    /// <summary>
    /// Drives <paramref name="direction"/> for <paramref name="duration"/>; returns the packets sent and received and
    /// what the rings did per run (<see cref="TrafficCounts"/>).
    /// </summary>
    public TrafficCounts Run(Direction direction, int packetLength, TimeSpan duration)
    {
        byte[] frame = Frames.Udp(packetLength);
        byte[] header = new byte[_device.Tx.HeaderSize];   // no offloads: all zero
        byte[] received = new byte[BufferSize * 64];
        bool send = direction != Direction.Enqueue, receive = direction != Direction.Dequeue;
        long tx = 0, rx = 0, rxBuffers = 0, refills = 0, refilled = 0, polls = 0;
        // This driver polls and never reads its call eventfds: ask for no interrupts, as a polling guest driver
        // (DPDK's virtio PMD) does. Left on, the backend wrote the call eventfd after every burst in each direction,
        // a system call per burst that nobody waits for.
        _device.Tx.DisableInterrupts();
        _device.Rx.DisableInterrupts();
        if (receive)
        {
            _device.Rx.FillRx(BufferSize);
            _device.Rx.Publish();
        }
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            polls++;
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
                    rxBuffers += info.Buffers;
                    any = true;
                }
                if (any)
                {
                    refilled += _device.Rx.FillRx(BufferSize);
                    refills++;
                    _device.Rx.Publish();
                }
            }
        }
        return new TrafficCounts(tx, rx, clock.Elapsed.TotalSeconds, polls, _device.Tx.Kicks + _device.Rx.Kicks, rxBuffers,
            refills, refilled);
    }

    /// <summary>Stops the device as QEMU does (the backend sees destroy_device), then closes everything.</summary>
    public void Dispose() => _device.StopAndDispose();
}

/// <summary>
/// One run of <see cref="TrafficDevice.Run"/>: packets sent and received, seconds, and what the rings did: loop
/// rounds, kicks written, used entries the received packets took (1 per packet unless mergeable buffers were
/// joined), RX refills and the buffers they posted.
/// </summary>
internal readonly record struct TrafficCounts(long Tx, long Rx, double Seconds, long Polls, long Kicks, long RxBuffers,
    long Refills, long Refilled);
