using HotPath.Engine;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Frontend.Direct;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// One engine device attached in-process to real memfd guest memory with split-ring drivers: queue pair p has its
/// RX ring (device enqueues) at vring 2p and its TX ring (device dequeues) at vring 2p+1.
/// </summary>
internal sealed class Loopback : IDisposable
{
    public const ulong BaseFeatures = 1UL << VirtioFeatures.Version1;

    public FrontendMemory Memory { get; }
    public VhostDevice Device { get; }
    public DirectAttach Attach { get; }
    public SplitRingDriver[] Rx { get; }
    public SplitRingDriver[] Tx { get; }
    public ulong Features { get; }

    public Loopback(ulong features = BaseFeatures, uint ringSize = 256, uint bufferSize = 2048, int queuePairs = 1,
        bool interrupts = false, ulong[]? regionSizes = null, ulong regionGap = 0x20_0000, bool crossing = false,
        int maxIndirect = 32)
    {
        Features = features;
        Memory = FrontendMemory.Create(regionSizes ?? new ulong[] { 64 << 20 }, gap: regionGap);
        Device = new VhostDevice();
        try
        {
            Attach = DirectAttach.Create(Device, Memory, features);
            Rx = new SplitRingDriver[queuePairs];
            Tx = new SplitRingDriver[queuePairs];
            for (int q = 0; q < queuePairs; q++)
            {
                var o = new SplitDriverOptions
                {
                    Size = ringSize, BufferSize = bufferSize, Features = features, MaxIndirect = maxIndirect,
                    CrossingBuffer = crossing && q == 0,
                };
                Rx[q] = new SplitRingDriver(Memory, o);
                Tx[q] = new SplitRingDriver(Memory, o with { CrossingBuffer = false });
                Attach.AttachSplit(2 * q, Rx[q], interrupts);
                Attach.AttachSplit(2 * q + 1, Tx[q], interrupts);
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
        foreach (SplitRingDriver d in Rx.Concat(Tx)) d.Dispose();
        Memory.Dispose();
    }
}
