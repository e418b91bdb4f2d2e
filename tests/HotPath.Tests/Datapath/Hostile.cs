using System.Runtime.InteropServices;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>The hostile-guest rig (<see cref="HostileRig{TDriver}"/>) on split rings.</summary>
internal sealed class Hostile(ulong features = 0, uint ringSize = 16, ulong[]? regionSizes = null, ulong regionGap = 0x20_0000, bool crossing = false)
    : HostileRig<SplitRingDriver>(new Loopback(features == 0 ? Loopback.With(VirtioFeatures.RingIndirectDesc) : features,
        ringSize: ringSize, regionSizes: regionSizes, regionGap: regionGap, crossing: crossing))
{
    protected override int UsedMark(SplitRingDriver d) => d.UsedIdx;

    public override ushort TakeRaw(SplitRingDriver d) => d.RawTakeDescriptor();

    public override void ReleaseRaw(SplitRingDriver d, ushort id) => d.RawRelease(id);

    public override void PostRaw(SplitRingDriver d, ushort id, params RawDesc[] chain)
    {
        ushort at = id;
        for (int i = 0; i < chain.Length; i++)
        {
            RawDesc e = chain[i];
            Assert.True(e.Id is null && e.ExactFlags is null, "ids and avail/used bits are packed-only");
            ushort next = i + 1 < chain.Length ? d.RawTakeDescriptor() : (ushort)0;
            d.RawWriteDesc(at, e.Addr, e.Len, e.Flags, next);
            at = next;
        }
        d.RawPushAvail(id);
    }

    protected override ulong WriteIndirectEntry(SplitRingDriver d, ushort id, int entry, RawDesc e) =>
        d.RawWriteIndirect(id, entry, e.Addr, e.Len, e.Flags, (ushort)(entry + 1));

    public override byte[] IndirectTableBytes(params RawDesc[] entries)
    {
        var b = new byte[entries.Length * 16];
        for (int i = 0; i < entries.Length; i++)
        {
            var e = new VringDesc { Addr = entries[i].Addr, Len = entries[i].Len, Flags = entries[i].Flags, Next = (ushort)(i + 1) };
            MemoryMarshal.Write(b.AsSpan(i * 16), in e);
        }
        return b;
    }

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

    public override ushort TakeRaw(PackedRingDriver d) => d.RawTakeBuffer();

    public override void ReleaseRaw(PackedRingDriver d, ushort id) => d.RawRelease(id);

    public override void PostRaw(PackedRingDriver d, ushort id, params RawDesc[] chain) => d.RawPost(id, chain);

    protected override ulong WriteIndirectEntry(PackedRingDriver d, ushort id, int entry, RawDesc e) =>
        d.RawWriteIndirect(id, entry, e.Addr, e.Len, e.Flags);

    public override byte[] IndirectTableBytes(params RawDesc[] entries)
    {
        var b = new byte[entries.Length * 16];
        for (int i = 0; i < entries.Length; i++)
        {
            var e = new VringPackedDesc { Addr = entries[i].Addr, Len = entries[i].Len, Flags = entries[i].Flags };
            MemoryMarshal.Write(b.AsSpan(i * 16), in e);
        }
        return b;
    }

    /// <summary>The used descriptors published and not reaped yet, in ring order.</summary>
    public override List<(uint Id, uint Len)> UsedSince(PackedRingDriver d, int mark) =>
        d.PeekUsed().Select(u => ((uint)u.Desc.Id, u.Desc.Len)).ToList();
}
