using HotPath.Engine.Buffers;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>Pieces shared by the packed enqueue and dequeue bursts: burst start, avail counting, burst end.</summary>
internal static unsafe class PackedRing
{
    /// <summary>Descriptors per batch: one 64-byte cache line of 16-byte descriptors (DPDK's PACKED_BATCH_SIZE).</summary>
    public const uint BatchSize = 4;

    /// <summary>
    /// Start of a burst: keeps guest kicks suppressed for the current features and loads the two cursors. The
    /// datapath keeps the used position equal to the avail position between bursts (every chain it takes is used
    /// within the burst); the cursors are still separate so an application that set them apart
    /// (hp_vhost_set_vring_base) gets its used entries where it asked.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Begin(VhostDevice dev, Vring vq, ulong features, out PackedCursor avail, out PackedCursor used)
    {
        if (vq.KickSuppressionFeatures != features) SuppressKicks(dev, vq, features);
        avail = new PackedCursor(vq.LastAvailIdx, PackedRingLayout.AvailPattern(vq.AvailWrapCounter));
        used = new PackedCursor(vq.LastUsedIdx, PackedRingLayout.UsedPattern(vq.UsedWrapCounter));
    }

    /// <summary>
    /// How many descriptors the batch-of-4 path may try from <paramref name="avail"/> on (a multiple of 4, 0 when it
    /// may not): only with used entries stored at once (<paramref name="directFrom"/>, so the used slots are the avail
    /// slots) and the avail cursor at a cache line's first descriptor; at most the packets <paramref name="wanted"/>,
    /// the descriptors before the ring's end (a batch never wraps), and the chains the burst still has room for.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint BatchLimit(PackedCursor avail, uint directFrom, uint nShadow, uint size, uint wanted)
    {
        if (directFrom != PackedUsedRing.DirectFromSecond || (avail.Index & (BatchSize - 1)) != 0) return 0;
        uint limit = Math.Min(wanted, Math.Min(size - avail.Index, size - nShadow));
        return limit & ~(BatchSize - 1);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SuppressKicks(VhostDevice dev, Vring vq, ulong features)
    {
        vq.ApplyPackedKickSuppression(features);
        if (DirtyLogging.For(dev, features) is { } log) DirtyLogging.UsedFlags(log, vq);   // the device area's page
    }

    /// <summary>True when the descriptor at <paramref name="at"/> is available (acquire load of its flags).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool HeadAvailable(byte* descs, PackedCursor at) =>
        PackedDescriptor.IsAvail(PackedDescriptor.ReadMeta(PackedDescriptor.At(descs, at.Index)), at.Pattern);

    /// <summary>
    /// How many of the next <paramref name="max"/> descriptors (at most the ring size) the driver has made available:
    /// a sizing hint only (the burst checks each descriptor again as it takes it). Drivers publish in ring order, so
    /// when the last one asked about is available they all are and one load answers; otherwise they are counted up to
    /// the first that is not.
    /// </summary>
    public static uint CountAvailable(byte* descs, uint size, PackedCursor at, uint max)
    {
        if (max > size) max = size;
        // An empty ring (most polls of a device faster than its guest) is answered by one load.
        if (max == 0 || !HeadAvailable(descs, at)) return 0;
        PackedCursor last = at;
        last.Advance(max - 1, size);
        if (HeadAvailable(descs, last)) return max;
        uint n = 1;
        at.Advance(1, size);
        while (n < max && HeadAvailable(descs, at))
        {
            n++;
            at.Advance(1, size);
        }
        return n;
    }

    /// <summary>
    /// Available chains from <paramref name="at"/> on, counting descriptors without NEXT, up to the first
    /// descriptor that is not available (at most one lap): rte_vhost_rx_queue_count / avail_entries on a packed ring.
    /// </summary>
    public static uint CountAvailableChains(byte* descs, uint size, PackedCursor at)
    {
        uint chains = 0;
        for (uint i = 0; i < size; i++)
        {
            // SAFETY: at.Index < size. Acquire load; only the flags of the local are looked at.
            ulong meta = PackedDescriptor.ReadMeta(PackedDescriptor.At(descs, at.Index));
            if (!PackedDescriptor.IsAvail(meta, at.Pattern)) break;
            if ((PackedDescriptor.Flags(meta) & VringPackedDesc.FlagNext) == 0) chains++;
            at.Advance(1, size);
        }
        return chains;
    }

    /// <summary>
    /// End of a burst, after its copies ran: publishes the used flags still waiting (<see cref="PackedUsedRing"/>), stores both
    /// cursors back into the vring and notifies the driver if it asked for it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Complete(VhostDevice dev, Vring vq, GuestMemory mem, uint* shadow, uint n, uint directFrom,
        PackedCursor avail, PackedCursor used, ulong features)
    {
        vq.LastAvailIdx = (ushort)avail.Index;
        vq.AvailWrapCounter = avail.Wrap;
        if (n == 0) return;
        // Cold features (dirty log, inflight tracking): one predictable branch per burst; their path is NoInlining.
        if (vq.ColdFeatures == 0) PackedUsedRing.Publish(vq.Desc, shadow, n, directFrom);
        else PackedColdPublish.Publish(vq, shadow, n, used);
        vq.LastUsedIdx = (ushort)used.Index;
        vq.UsedWrapCounter = used.Wrap;
        PackedUsedRing.NotifyIfWanted(dev, vq, used.Position, VirtioFeatures.Has(features, VirtioFeatures.RingEventIdx));
    }

    /// <summary>
    /// The region cache a burst starts with: the region of the buffer at <paramref name="head"/>, whose flags the
    /// caller read (acquire) and found available, so its address is read after them. A hint only: every buffer is
    /// still checked against the cache. Empty while a cold feature in <paramref name="needsPieces"/> is on.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RegionCache FirstRegion(Vring vq, int needsPieces, GuestMemory mem, byte* head) =>
        RegionCache.ForInline(vq, needsPieces, mem, PackedDescriptor.ReadAddr(head));

    /// <summary>
    /// Host address of a guest buffer through the burst's region cache (refreshed on a miss); null when unmapped, or
    /// while a cold feature in <paramref name="needsPieces"/> is on (<see cref="RegionCache.ForInline"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* Translate(ref RegionCache region, Vring vq, int needsPieces, GuestMemory mem, ulong gpa, uint len)
    {
        byte* p = region.Translate(gpa, len);
        if (p != null) return p;
        region = RegionCache.ForInline(vq, needsPieces, mem, gpa);
        return region.Translate(gpa, len);
    }

    /// <summary>Traffic counters of a completed burst (the caller checked the device's stats switch).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void CountStats(Vring vq, Mbuf** pkts, uint n, uint batched)
    {
        if (n != 0) vq.Stats.CountPackets(pkts, (int)n);
        vq.Stats.Add(VringStats.PackedBatchDescriptors, batched);
    }
}
