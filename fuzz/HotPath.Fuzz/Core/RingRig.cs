using HotPath.Engine;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Frontend.Direct;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Fuzz.Packed;
using HotPath.Fuzz.Split;

namespace HotPath.Fuzz.Core;

/// <summary>
/// The real thing a split or packed case runs on: memfd guest memory laid out as <see cref="SplitLayout"/> says, an
/// engine <see cref="VhostDevice"/> attached to it exactly as the control plane would (<see cref="DirectAttach"/>),
/// vring 0 (RX, enqueue) and vring 1 (TX, dequeue) at the case's start position (packed: with RING_PACKED and the
/// start wrap counter), polling (no eventfds), stats on.
/// </summary>
internal sealed class RingRig : IDisposable
{
    public FrontendMemory Memory { get; }
    public VhostDevice Device { get; }
    public SplitLayout Layout { get; }
    public RingAreas RxRing { get; }
    public RingAreas TxRing { get; }
    public int HeaderSize { get; }
    public ulong Features { get; }
    private readonly DirectAttach _attach;

    public Vring Rx => Device.GetVring(0)!;
    public Vring Tx => Device.GetVring(1)!;

    /// <summary>The rig of a split case: split rings at the case's free-running start index.</summary>
    public static RingRig For(SplitCase c) =>
        new(c.Regions, c.Contiguous, c.Steps.Any(s => s.Chains.Any(ch => ch.Form == ChainForm.IndirectCrossing)),
            FeatureBits(c.Features), c.RingSize, packed: false, c.StartIndex);

    /// <summary>The rig of a packed case: packed rings at the case's start slot and wrap counter.</summary>
    public static RingRig For(PackedCase c) =>
        new(c.Regions, c.Contiguous, c.Steps.Any(s => s.Chains.Any(ch => ch.Form == ChainForm.IndirectCrossing)),
            FeatureBits(c.Features) | VirtioFeatures.Bit(VirtioFeatures.RingPacked), c.RingSize, packed: true,
            PackedRingLayout.Position(c.StartIndex, c.StartWrap));

    private RingRig(int regions, bool contiguous, bool indirectCrossing, ulong features, uint ringSize, bool packed, uint baseIndex)
    {
        Layout = new SplitLayout(regions, contiguous, indirectCrossing);
        Features = features;
        HeaderSize = VirtioNetHeader.SizeFor(Features);
        Memory = FrontendMemory.Create(Enumerable.Repeat(SplitLayout.RegionSize, regions).ToArray(), SplitLayout.BaseGpa, gap: Layout.Gap);
        Device = new VhostDevice { StatsEnabled = true };
        try
        {
            _attach = DirectAttach.Create(Device, Memory, Features);
            RxRing = packed ? RingAreas.AllocatePacked(Memory, ringSize, region: 0) : RingAreas.AllocateSplit(Memory, ringSize, region: 0);
            TxRing = packed ? RingAreas.AllocatePacked(Memory, ringSize, region: 0) : RingAreas.AllocateSplit(Memory, ringSize, region: 0);
            if (Memory.Regions[0].Next > SplitLayout.TableAreaStart) throw new InvalidOperationException("rings overflow the ring area");
            RxRing.BaseIndex = baseIndex;
            TxRing.BaseIndex = baseIndex;
            _attach.AttachRing(0, RxRing);
            _attach.AttachRing(1, TxRing);
        }
        catch
        {
            Device.Dispose();
            Memory.Dispose();
            throw;
        }
    }

    public static ulong FeatureBits(SplitFeatures f)
    {
        ulong bits = VirtioFeatures.Bit(VirtioFeatures.RingIndirectDesc);
        if ((f & SplitFeatures.Version1) != 0) bits |= VirtioFeatures.Bit(VirtioFeatures.Version1);
        if ((f & SplitFeatures.Mergeable) != 0) bits |= VirtioFeatures.Bit(VirtioFeatures.NetMrgRxbuf);
        if ((f & SplitFeatures.EventIdx) != 0) bits |= VirtioFeatures.Bit(VirtioFeatures.RingEventIdx);
        if ((f & SplitFeatures.Offloads) != 0)
            bits |= VirtioFeatures.Bit(VirtioFeatures.NetCsum) | VirtioFeatures.Bit(VirtioFeatures.NetHostTso4) |
                    VirtioFeatures.Bit(VirtioFeatures.NetHostTso6);
        return bits;
    }

    public void Dispose()
    {
        _attach.Dispose();
        Device.Dispose();
        Memory.Dispose();
    }
}
