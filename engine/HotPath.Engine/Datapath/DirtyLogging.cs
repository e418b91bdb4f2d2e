using HotPath.Engine.Logging;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Live-migration dirty logging of what the datapath writes into guest memory (DPDK's vhost_log_cache_write_iova and
/// vhost_log_cache_used_vring): packet bytes and headers on enqueue, from the pieces they were written into (see
/// <see cref="ColdBurst"/>), the packed descriptors written back as used, and the device area. Cold: called only
/// while logging is on. The pages marked are counted in the vring's <c>log_pages_marked</c>.
/// </summary>
internal static unsafe class DirtyLogging
{
    /// <summary>The log to mark for this burst, or null when dirty logging is off.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DirtyLog? For(VhostDevice dev, ulong features) =>
        (features & (1UL << VirtioFeatures.LogAll)) != 0 ? dev.Log : null;

    /// <summary>Marks the first <paramref name="bytes"/> bytes written into the pieces, from their guest addresses.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Pieces(DirtyLog log, VringStats stats, BufPiece* vec, int nVec, ulong bytes)
    {
        ulong pages = 0;
        for (int i = 0; i < nVec && bytes != 0; i++)
        {
            ulong n = Math.Min(bytes, vec[i].Len);
            pages += log.MarkRange(vec[i].Gpa, n);
            bytes -= n;
        }
        stats.Add(VringStats.LogPagesMarked, pages);
    }

    /// <summary>Marks the used ring's flags word (kick suppression).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void UsedFlags(DirtyLog log, Vring vq)
    {
        ulong used = UsedGpa(vq);
        if (used != ulong.MaxValue) vq.Stats.Add(VringStats.LogPagesMarked, log.MarkRange(used + SplitRingLayout.UsedFlagsOffset, 2));
    }

    /// <summary>
    /// Packed rings: marks the descriptors a burst wrote back as used (from the first <paramref name="shadow"/> entry
    /// of <see cref="PackedUsedRing"/> to <paramref name="newUsedIndex"/>). A packed ring's used entries live in the
    /// descriptor ring itself, so it is that ring's pages that change (the frontend's log address names the device
    /// area, which is marked on its own).
    /// <para>The burst wrote used descriptors between the first shadow entry's slot and the new used index (chains
    /// of several descriptors leave gaps, which are marked too: a superset is safe), so at most two ranges are marked
    /// rather than one atomic OR per descriptor. The ring's GPA was translated when the ring was set up.</para>
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void PackedUsed(DirtyLog log, Vring vq, uint* shadow, uint newUsedIndex)
    {
        ulong desc = vq.DescGuestPhysAddr;
        if (desc == 0 || desc == ulong.MaxValue) return;
        uint size = vq.Size;
        uint start = shadow[0] & 0xFFFF;
        uint end = newUsedIndex;
        ulong pages;
        if (end > start) pages = log.MarkRange(desc + 16UL * start, 16UL * (end - start));
        else
        {
            // Wrapped (or a whole lap): [start, size) and [0, end).
            pages = log.MarkRange(desc + 16UL * start, 16UL * (size - start));
            if (end != 0) pages += log.MarkRange(desc, 16UL * end);
        }
        vq.Stats.Add(VringStats.LogPagesMarked, pages);
    }

    // LogGuestPhysAddr: the log address, or under IOMMU_PLATFORM (where it is an IOVA) its translation.
    private static ulong UsedGpa(Vring vq) => (vq.AddrFlags & Vring.AddrFlagLog) != 0 ? vq.LogGuestPhysAddr : vq.UsedGuestPhysAddr;
}
