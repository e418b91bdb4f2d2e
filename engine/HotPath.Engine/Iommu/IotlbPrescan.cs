using HotPath.Engine.Datapath;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Iommu;

/// <summary>
/// Before an IOTLB burst on a split ring takes chains (<see cref="PackedIotlbPrescan"/> for packed rings): how many of
/// the next available chains the IOTLB maps every address of (their buffers, their indirect tables). The first
/// address no mapping holds is asked of the frontend (one IOTLB miss, deduplicated in <see cref="IotlbMisses"/>) and
/// the burst stops in front of its chain: nothing is dropped for a miss, the chain is taken on a later call once the
/// update arrived. Only presence is checked here; access rights
/// and every other guard are the real walk's (a chain a guest rewrites in between is dropped there, never misread).
/// Descriptors are read through the readable view only.
/// </summary>
internal static unsafe class IotlbPrescan
{
    private const ushort FlagNext = VringDesc.FlagNext, FlagIndirect = VringDesc.FlagIndirect;

    /// <summary>Chains an RX burst checks at a time when it needs more than it checked (mergeable packets), both rings.</summary>
    internal const uint ExtendStep = 32;

    /// <summary>
    /// Chains among the <paramref name="max"/> from avail position <paramref name="from"/> that the IOTLB maps
    /// (a prefix: it stops at the first that misses). <paramref name="bufPerm"/>: the access the buffers need.
    /// </summary>
    public static uint Resolvable(VhostDevice dev, Vring vq, IotlbViews views, ushort from, uint max, byte bufPerm)
    {
        ushort* ring = (ushort*)(vq.Avail + SplitRingLayout.AvailRingOffset);
        uint mask = vq.Size - 1;
        ulong hits = 0;
        RegionCache last = default;   // the mapping the previous buffer was found in
        uint k = 0;
        for (; k < max; k++)
        {
            // SAFETY: the index is masked into the translated avail ring.
            ushort head = ring[(ushort)(from + k) & mask];
            if (!ChainMapped(views, vq.Desc, vq.Size, head, bufPerm, ref last, ref hits, out ulong miss, out byte perm))
            {
                vq.Stats.Add(VringStats.IotlbMisses, 1);
                dev.IotlbMisses.Request(miss, perm);
                break;
            }
        }
        if (hits != 0) vq.Stats.Add(VringStats.IotlbHits, hits);
        return k;
    }

    private static bool ChainMapped(IotlbViews v, byte* descs, uint size, ushort head, byte bufPerm, ref RegionCache last,
        ref ulong hits, out ulong miss, out byte missPerm)
    {
        miss = 0;
        missPerm = bufPerm;
        if (head >= size) return true;   // malformed: the walk drops it
        // SAFETY: head < size: inside the translated descriptor table.
        SplitDescriptor.Read(descs + ((nuint)head << 4), out ulong addr, out ulong meta);
        ushort flags = SplitDescriptor.Flags(meta);
        byte* table = descs;
        ulong tableIova = 0;
        uint entries = size;
        if ((flags & FlagIndirect) != 0)
        {
            uint len = SplitDescriptor.Len(meta);
            if ((flags & FlagNext) != 0 || len == 0 || (len & 15) != 0 || (len >> 4) > size) return true;
            missPerm = IotlbPerm.Read;
            if (!Mapped(v.Any, addr, len, ref last, ref hits, ref miss)) return false;
            missPerm = bufPerm;
            // A table inside one readable mapping is read in place; one that crosses mappings entry by entry.
            table = v.Read.GpaToHostExact(addr, len);
            tableIova = addr;
            entries = len >> 4;
            if (!Load(v, table, tableIova, 0, out addr, out meta)) return true;   // not readable: the walk drops it
            flags = SplitDescriptor.Flags(meta);
        }
        for (uint count = 1; ; count++)
        {
            if (count > entries || (flags & FlagIndirect) != 0) return true;
            uint len = SplitDescriptor.Len(meta);
            if (len != 0 && !Mapped(v.Any, addr, len, ref last, ref hits, ref miss)) return false;
            if ((flags & FlagNext) == 0) return true;
            ushort next = SplitDescriptor.Next(meta);
            if (next >= entries || !Load(v, table, tableIova, next, out addr, out meta)) return true;
            flags = SplitDescriptor.Flags(meta);
        }
    }

    /// <summary>Entry <paramref name="i"/> of a table (below its entry count): in place, or translated on its own.</summary>
    private static bool Load(IotlbViews v, byte* table, ulong tableIova, uint i, out ulong addr, out ulong meta)
    {
        byte* p = table != null ? table + 16 * (nuint)i : v.Read.GpaToHostExact(tableIova + 16UL * i, 16);
        if (p == null)
        {
            addr = meta = 0;
            return false;
        }
        // SAFETY: the table (or this entry alone) was translated with its full length through the readable view.
        SplitDescriptor.Read(p, out addr, out meta);
        return true;
    }

    /// <summary>
    /// True when every byte of [iova, iova+len) has a mapping; else false with the first that has none. A buffer
    /// inside the mapping the previous one was found in (<paramref name="last"/>: nearly every buffer, as guests map
    /// their memory in few, large mappings) costs one subtract and two compares.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool Mapped(Memory.GuestMemory any, ulong iova, uint len, ref RegionCache last, ref ulong hits, ref ulong miss)
    {
        if (last.Translate(iova, len) != null)
        {
            hits++;
            return true;
        }
        return MappedSlow(any, iova, len, ref last, ref hits, ref miss);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool MappedSlow(Memory.GuestMemory any, ulong iova, uint len, ref RegionCache last, ref ulong hits, ref ulong miss)
    {
        if (iova > ulong.MaxValue - (len - 1)) return true;   // wraps: the walk drops it
        last = RegionCache.For(any, iova);
        ulong remain = len;
        while (remain != 0)
        {
            ulong got = remain;
            if (any.GpaToHost(iova, ref got) == null)
            {
                miss = iova;
                return false;
            }
            hits++;
            iova += got;
            remain -= got;
        }
        return true;
    }
}
