using HotPath.Engine.Datapath;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Iommu;

/// <summary>
/// The packed-ring half of <see cref="IotlbPrescan"/>: before an IOTLB burst takes chains, how many of the next
/// available chains the IOTLB maps every address of (buffers, indirect tables). The first address no mapping holds is
/// asked of the frontend once and the scan stops in front of its chain; nothing is dropped for a miss. Only presence
/// is checked, and only where the walk would look: a descriptor the walk drops (wrong direction, INDIRECT inside a
/// chain, a malformed table) ends the checks of its chain, which is still followed to its end so that the next chain
/// starts where the walk will find it. Access rights and every other guard are the walk's
/// (<see cref="PackedChainWalker"/>). Descriptors are read as the walk reads them (flags first, acquire).
/// </summary>
internal static unsafe class PackedIotlbPrescan
{
    private const ushort FlagNext = VringPackedDesc.FlagNext, FlagWrite = VringPackedDesc.FlagWrite,
        FlagIndirect = VringPackedDesc.FlagIndirect;

    private enum Scan
    {
        Mapped,
        Missed,
        /// <summary>The head is not available: the driver has posted nothing more.</summary>
        NotAvailable,
    }

    /// <summary>
    /// Chains among the next <paramref name="max"/> from <paramref name="at"/> that the IOTLB maps (a prefix: it stops at
    /// the first that misses or is not available; <paramref name="stopped"/> says it stopped before <paramref name="max"/>).
    /// <paramref name="at"/> is moved past them. <paramref name="bufPerm"/>: the access the buffers need.
    /// </summary>
    public static uint Resolvable(VhostDevice dev, Vring vq, IotlbViews views, ref PackedCursor at, uint max, byte bufPerm,
        out bool stopped)
    {
        byte* descs = vq.Desc;
        uint size = vq.Size;
        ushort writeFlag = bufPerm == IotlbPerm.Write ? FlagWrite : (ushort)0;
        ulong hits = 0;
        RegionCache last = default;   // the mapping the previous buffer was found in
        uint k = 0;
        Scan s = Scan.Mapped;
        for (; k < max; k++)
        {
            PackedCursor next = at;
            s = Chain(views, descs, size, ref next, writeFlag, bufPerm, ref last, ref hits, out ulong miss, out byte perm);
            if (s == Scan.Missed)
            {
                vq.Stats.Add(VringStats.IotlbMisses, 1);
                dev.IotlbMisses.Request(miss, perm);
            }
            if (s != Scan.Mapped) break;
            at = next;
        }
        if (hits != 0) vq.Stats.Add(VringStats.IotlbHits, hits);
        stopped = s != Scan.Mapped;
        return k;
    }

    /// <summary>Checks the chain at <paramref name="at"/> and moves <paramref name="at"/> past it.</summary>
    private static Scan Chain(IotlbViews v, byte* descs, uint size, ref PackedCursor at, ushort writeFlag, byte bufPerm,
        ref RegionCache last, ref ulong hits, out ulong miss, out byte missPerm)
    {
        miss = 0;
        missPerm = bufPerm;
        // SAFETY: at.Index < size, inside the translated ring. Acquire load of the flags before the address.
        byte* d = PackedDescriptor.At(descs, at.Index);
        ulong meta = PackedDescriptor.ReadMeta(d);
        if (!PackedDescriptor.IsAvail(meta, at.Pattern)) return Scan.NotAvailable;
        ulong addr = PackedDescriptor.ReadAddr(d);
        ushort flags = PackedDescriptor.Flags(meta);
        at.Advance(1, size);
        if ((flags & (FlagIndirect | FlagNext)) == FlagIndirect)
            return Indirect(v, addr, PackedDescriptor.Len(meta), size, writeFlag, bufPerm, ref last, ref hits, ref miss, ref missPerm);

        bool check = true;
        for (uint n = 1; ; n++)
        {
            if ((flags & FlagIndirect) != 0 || (flags & FlagWrite) != writeFlag) check = false;   // the walk drops it
            uint len = PackedDescriptor.Len(meta);
            if (check && len != 0 && !IotlbPrescan.Mapped(v.Any, addr, len, ref last, ref hits, ref miss)) return Scan.Missed;
            if ((flags & FlagNext) == 0 || n == size) return Scan.Mapped;
            // SAFETY: at.Index < size. Acquire, as for the head.
            d = PackedDescriptor.At(descs, at.Index);
            meta = PackedDescriptor.ReadMeta(d);
            if (!PackedDescriptor.IsAvail(meta, at.Pattern)) return Scan.Mapped;   // the walk ends the chain here
            addr = PackedDescriptor.ReadAddr(d);
            flags = PackedDescriptor.Flags(meta);
            at.Advance(1, size);
        }
    }

    /// <summary>The indirect table at (<paramref name="iova"/>, <paramref name="len"/>) and the buffers of its entries.</summary>
    private static Scan Indirect(IotlbViews v, ulong iova, uint len, uint size, ushort writeFlag, byte bufPerm,
        ref RegionCache last, ref ulong hits, ref ulong miss, ref byte missPerm)
    {
        if (len == 0 || (len & 15) != 0 || (len >> 4) > size) return Scan.Mapped;   // malformed: the walk drops it
        missPerm = IotlbPerm.Read;
        if (!IotlbPrescan.Mapped(v.Any, iova, len, ref last, ref hits, ref miss)) return Scan.Missed;
        missPerm = bufPerm;
        // Mapped but perhaps not readable: the walk drops it then. Read through the readable view, as the walk does.
        if (DescriptorTable.OpenIndirect(v.Read, iova, len, size, out DescriptorTable table) != DropReason.None) return Scan.Mapped;
        for (uint i = 0; i < table.Entries; i++)
        {
            if (!table.TryLoad(v.Read, i, out ulong addr, out ulong meta)) return Scan.Mapped;
            ushort flags = PackedDescriptor.Flags(meta);
            if ((flags & FlagIndirect) != 0 || (flags & FlagWrite) != writeFlag) return Scan.Mapped;
            uint l = PackedDescriptor.Len(meta);
            if (l != 0 && !IotlbPrescan.Mapped(v.Any, addr, l, ref last, ref hits, ref miss)) return Scan.Missed;
        }
        return Scan.Mapped;
    }
}
