using HotPath.Engine;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Frontend.Direct;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// One engine device attached in-process to real memfd guest memory with ring drivers of one type: queue pair p has
/// its RX ring (device enqueues) at vring 2p and its TX ring (device dequeues) at vring 2p+1.
/// </summary>
internal abstract class Loopback<TDriver> : IDisposable where TDriver : class, IRingDriver
{
    public const ulong BaseFeatures = 1UL << VirtioFeatures.Version1;

    public FrontendMemory Memory { get; }
    public VhostDevice Device { get; }
    public DirectAttach Attach { get; }
    public TDriver[] Rx { get; }
    public TDriver[] Tx { get; }
    public ulong Features { get; }

    protected Loopback(Func<FrontendMemory, RingDriverOptions, TDriver> create, ulong features, uint ringSize,
        uint bufferSize, int queuePairs, bool interrupts, ulong[]? regionSizes, ulong regionGap, bool crossing, int maxIndirect)
    {
        Features = features;
        Memory = FrontendMemory.Create(regionSizes ?? new ulong[] { 64 << 20 }, gap: regionGap);
        Device = new VhostDevice();
        try
        {
            Attach = DirectAttach.Create(Device, Memory, features);
            Rx = new TDriver[queuePairs];
            Tx = new TDriver[queuePairs];
            for (int q = 0; q < queuePairs; q++)
            {
                var o = new RingDriverOptions
                {
                    Size = ringSize, BufferSize = bufferSize, Features = features, MaxIndirect = maxIndirect,
                    CrossingBuffer = crossing && q == 0,
                };
                Rx[q] = create(Memory, o);
                Tx[q] = create(Memory, o with { CrossingBuffer = false });
                Attach.AttachDriver(2 * q, Rx[q], interrupts);
                Attach.AttachDriver(2 * q + 1, Tx[q], interrupts);
            }
        }
        catch
        {
            Device.Dispose();
            Memory.Dispose();
            throw;
        }
    }

    public static ulong With(params int[] bits)
    {
        ulong f = BaseFeatures;
        foreach (int b in bits) f |= 1UL << b;
        return f;
    }

    public Vring RxVring(int q = 0) => Device.GetVring(2 * q)!;
    public Vring TxVring(int q = 0) => Device.GetVring(2 * q + 1)!;

    /// <summary>True when no driver buffer had a byte written outside it.</summary>
    public bool GuardsIntact() => Rx.All(d => d.Buffers.GuardsIntact()) && Tx.All(d => d.Buffers.GuardsIntact());

    public void Dispose()
    {
        Attach.Dispose();
        Device.Dispose();
        foreach (TDriver d in Rx.Concat(Tx)) d.Dispose();
        Memory.Dispose();
    }
}

/// <summary>A <see cref="Loopback{TDriver}"/> of split rings.</summary>
internal sealed class Loopback(ulong features = Loopback<SplitRingDriver>.BaseFeatures, uint ringSize = 256, uint bufferSize = 2048,
    int queuePairs = 1, bool interrupts = false, ulong[]? regionSizes = null, ulong regionGap = 0x20_0000, bool crossing = false,
    int maxIndirect = 32)
    : Loopback<SplitRingDriver>((m, o) => new SplitRingDriver(m, o), features, ringSize, bufferSize, queuePairs, interrupts,
        regionSizes, regionGap, crossing, maxIndirect);

/// <summary>A <see cref="Loopback{TDriver}"/> of packed rings (VIRTIO_F_RING_PACKED negotiated on top of the given features).</summary>
internal sealed class PackedLoopback(ulong features = Loopback<PackedRingDriver>.BaseFeatures, uint ringSize = 256, uint bufferSize = 2048,
    int queuePairs = 1, bool interrupts = false, ulong[]? regionSizes = null, ulong regionGap = 0x20_0000, bool crossing = false,
    int maxIndirect = 32)
    : Loopback<PackedRingDriver>((m, o) => new PackedRingDriver(m, o), features | (1UL << VirtioFeatures.RingPacked), ringSize,
        bufferSize, queuePairs, interrupts, regionSizes, regionGap, crossing, maxIndirect);
