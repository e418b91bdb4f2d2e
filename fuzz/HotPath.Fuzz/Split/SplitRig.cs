using HotPath.Engine;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Frontend.Direct;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;

namespace HotPath.Fuzz.Split;

/// <summary>
/// The real thing a split case runs on: memfd guest memory laid out as <see cref="SplitLayout"/> says, an engine
/// <see cref="VhostDevice"/> attached to it exactly as the control plane would (<see cref="DirectAttach"/>), vring 0
/// (RX, enqueue) and vring 1 (TX, dequeue) at the case's start index, polling (no eventfds), stats on.
/// </summary>
internal sealed class SplitRig : IDisposable
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

    public SplitRig(SplitCase c)
    {
        Layout = new SplitLayout(c.Regions, c.Contiguous, c.Steps.Any(s => s.Chains.Any(ch => ch.Form == ChainForm.IndirectCrossing)));
        Features = FeatureBits(c.Features);
        HeaderSize = VirtioNetHeader.SizeFor(Features);
        Memory = FrontendMemory.Create(Enumerable.Repeat(SplitLayout.RegionSize, c.Regions).ToArray(), SplitLayout.BaseGpa, gap: Layout.Gap);
        Device = new VhostDevice { StatsEnabled = true };
        try
        {
            _attach = DirectAttach.Create(Device, Memory, Features);
            RxRing = RingAreas.AllocateSplit(Memory, c.RingSize, region: 0);
            TxRing = RingAreas.AllocateSplit(Memory, c.RingSize, region: 0);
            if (Memory.Regions[0].Next > SplitLayout.TableAreaStart) throw new InvalidOperationException("rings overflow the ring area");
            RxRing.BaseIndex = c.StartIndex;
            TxRing.BaseIndex = c.StartIndex;
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
