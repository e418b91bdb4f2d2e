using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>The hostile-guest rig (<see cref="HostileRig{TDriver}"/>) on split rings.</summary>
internal sealed class Hostile(ulong features = 0, uint ringSize = 16, ulong[]? regionSizes = null, ulong regionGap = 0x20_0000, bool crossing = false)
    : HostileRig<SplitRingDriver>(new Loopback(features == 0 ? Loopback.With(VirtioFeatures.RingIndirectDesc) : features,
        ringSize: ringSize, regionSizes: regionSizes, regionGap: regionGap, crossing: crossing))
{
    protected override int UsedMark(SplitRingDriver d) => d.UsedIdx;

    /// <summary>The used entries the device published since free-running index <paramref name="mark"/>.</summary>
    public override List<(uint Id, uint Len)> UsedSince(SplitRingDriver d, int mark)
    {
        var l = new List<(uint, uint)>();
        for (ushort i = (ushort)mark; i != d.UsedIdx; i++)
        {
            VringUsedElem e = d.RawUsed(i);
            l.Add((e.Id, e.Len));
        }
        return l;
    }
}

/// <summary>The hostile-guest rig (<see cref="HostileRig{TDriver}"/>) on packed rings.</summary>
internal sealed class PackedHostile(ulong features = 0, uint ringSize = 16, ulong[]? regionSizes = null, ulong regionGap = 0x20_0000, bool crossing = false)
    : HostileRig<PackedRingDriver>(new PackedLoopback(features == 0 ? Loopback.With(VirtioFeatures.RingIndirectDesc) : features,
        ringSize: ringSize, regionSizes: regionSizes, regionGap: regionGap, crossing: crossing))
{
    /// <summary>Packed used descriptors are read from the driver's next used slot on: nothing to remember.</summary>
    protected override int UsedMark(PackedRingDriver d) => 0;

    /// <summary>The used descriptors published and not reaped yet, in ring order.</summary>
    public override List<(uint Id, uint Len)> UsedSince(PackedRingDriver d, int mark) =>
        d.PeekUsed().Select(u => ((uint)u.Desc.Id, u.Desc.Len)).ToList();
}
