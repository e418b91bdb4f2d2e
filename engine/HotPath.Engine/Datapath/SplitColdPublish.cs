using HotPath.Engine.Inflight;
using HotPath.Engine.Logging;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Publication of a split-ring burst when a cold feature is on (<see cref="Vring.ColdFeatures"/>), the split half of
/// <see cref="ColdBurst"/>'s contract: dirty logging of the used entries, and inflight tracking of the heads the burst
/// took. The fast path's <see cref="SplitUsedRing.Publish"/> does the same publication without either. Runs after
/// the burst's copies; the slow path already marked the bytes it wrote into guest buffers, from its pieces
/// (<see cref="ColdBurst.Written"/>; while logging, no RX buffer takes the inline path).
/// <para>Order, and why:</para>
/// <list type="number">
/// <item>Inflight: the burst's heads are marked taken and linked as the last batch. These stores precede the used.idx
/// release store (5), so a backend killed after (5) leaves a region that names the published batch.</item>
/// <item>The used entries are written.</item>
/// <item>Logging: the pages of the used entries, when the ring has VHOST_VRING_F_LOG, go into a log cache, which is
/// flushed with one atomic OR per log word (the packet bytes were marked the same way by the slow path, after its
/// copies). The data was written before the first OR (each is a full fence): a frontend that sees a bit set, clears
/// it and copies the page, copies our data. Never the other way round: a bit set before the write could be cleared
/// and the stale page copied, and the write would be lost to the destination.</item>
/// <item>(4 is the flush above) Every bit is set before the guest can see the buffers as used. From the guest's
/// point of view a completion it observed must survive migration: if the source stops right after it, the pages
/// behind it are already marked for the final copy. DPDK orders its log_cache_sync the same way.</item>
/// <item>used.idx is published with a release store; then its own page is logged (after the write, as in 3). The
/// frontend's final log sync comes after GET_VRING_BASE, which waits for this burst's access lock, so that last bit
/// is set in time.</item>
/// <item>Inflight: a full fence, the batch's inflight bytes cleared, then (release) used_idx = used.idx.</item>
/// </list>
/// </summary>
[SkipLocalsInit]
internal static unsafe class SplitColdPublish
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ushort Publish(VhostDevice dev, Vring vq, VringUsedElem* shadow, uint n)
    {
        int cold = vq.ColdFeatures;
        InflightQueue? inflight = (cold & Vring.ColdInflight) != 0 ? vq.Inflight : null;
        DirtyLog? log = vq.ActiveLog;
        byte* used = vq.Used;
        uint size = vq.Size;
        ushort lastUsed = vq.LastUsedIdx;

        if (inflight != null) InflightSplit.TakeBatch(inflight, shadow, n);
        SplitUsedRing.WriteEntries(used, size, shadow, n, lastUsed);
        if (log != null && vq.LogUsed)
        {
            LogCacheEntry* storage = stackalloc LogCacheEntry[LogCache.Capacity];
            var cache = new LogCache(log, storage, vq.Stats);
            LogUsedEntries(ref cache, vq.UsedLogGpa, size, lastUsed, n);
            cache.Flush();
        }
        ushort newUsed = (ushort)(lastUsed + n);
        // Release store: the used entries and every guest write before them are visible before the index that hands
        // the buffers back (and, with logging on, after every log bit naming them: see above).
        Volatile.Write(ref *(ushort*)(used + SplitRingLayout.UsedIdxOffset), newUsed);
        if (log != null && vq.LogUsed)
            vq.Stats.Add(VringStats.LogPagesMarked, log.MarkRange(vq.UsedLogGpa + SplitRingLayout.UsedIdxOffset, sizeof(ushort)));
        if (inflight != null) InflightSplit.CompleteBatch(inflight, shadow, n, newUsed);
        return newUsed;
    }

    /// <summary>The used entries [lastUsed, lastUsed + n) as used-ring offsets from the log address (two ranges when they wrap).</summary>
    private static void LogUsedEntries(ref LogCache cache, ulong logGpa, uint size, ushort lastUsed, uint n)
    {
        uint start = lastUsed & (size - 1);
        uint first = Math.Min(n, size - start);
        ulong ring = logGpa + SplitRingLayout.UsedRingOffset;
        cache.MarkRange(ring + 8UL * start, 8UL * first);
        if (n != first) cache.MarkRange(ring, 8UL * (n - first));
    }
}
