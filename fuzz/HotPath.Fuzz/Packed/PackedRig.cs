using HotPath.Engine;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Frontend.Direct;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Fuzz.Split;

namespace HotPath.Fuzz.Packed;

/// <summary>
/// The real thing a packed case runs on: memfd guest memory laid out as <see cref="SplitLayout"/> says, an engine
/// <see cref="VhostDevice"/> with RING_PACKED attached to it as the control plane would (<see cref="DirectAttach"/>),
/// vring 0 (RX, enqueue) and vring 1 (TX, dequeue) at the case's start position, polling, stats on.
/// </summary>
internal sealed class PackedRig : IDisposable
{
    public FrontendMemory Memory { get; }
    public VhostDevice Device { get; }
    public SplitLayout Layout { get; }
    public RingAreas RxRing { get; }
    public RingAreas TxRing { get; }
    public int HeaderSize { get; }
    private readonly DirectAttach _attach;

    public Vring Rx => Device.GetVring(0)!;
    public Vring Tx => Device.GetVring(1)!;

    public PackedRig(PackedCase c)
    {
        Layout = new SplitLayout(c.Regions, c.Contiguous, c.Steps.Any(s => s.Chains.Any(ch => ch.Form == ChainForm.IndirectCrossing)));
        ulong features = SplitRig.FeatureBits(c.Features) | VirtioFeatures.Bit(VirtioFeatures.RingPacked);
        HeaderSize = VirtioNetHeader.SizeFor(features);
        Memory = FrontendMemory.Create(Enumerable.Repeat(SplitLayout.RegionSize, c.Regions).ToArray(), SplitLayout.BaseGpa, gap: Layout.Gap);
        Device = new VhostDevice { StatsEnabled = true };
        try
        {
            _attach = DirectAttach.Create(Device, Memory, features);
            RxRing = RingAreas.AllocatePacked(Memory, c.RingSize, region: 0);
            TxRing = RingAreas.AllocatePacked(Memory, c.RingSize, region: 0);
            if (Memory.Regions[0].Next > SplitLayout.TableAreaStart) throw new InvalidOperationException("rings overflow the ring area");
            RxRing.BaseIndex = PackedRingLayout.Position(c.StartIndex, c.StartWrap);
            TxRing.BaseIndex = RxRing.BaseIndex;
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

    public void Dispose()
    {
        _attach.Dispose();
        Device.Dispose();
        Memory.Dispose();
    }
}
