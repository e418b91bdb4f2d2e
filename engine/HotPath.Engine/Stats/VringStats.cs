using System.Numerics;
using HotPath.Engine.Buffers;

namespace HotPath.Engine.Stats;

/// <summary>
/// Per-vring counters in native memory, on cache lines of their own (the vring's datapath thread is the only
/// writer; readers may see a counter one update behind, never a torn one: each is an aligned 64-bit word).
/// Traffic counters are updated only when the device has stats enabled, through an inlined guard calling a
/// <c>NoInlining</c> slow path; drop counters always (they are rare). The order of the counters is the order of
/// <see cref="VringStatNames.All"/>.
/// </summary>
public sealed unsafe class VringStats : IDisposable
{
    // ---- counter indexes (stable: the names table and the C API follow them) ----
    public const int GoodPackets = 0, GoodBytes = 1, Multicast = 2, Broadcast = 3;
    /// <summary>First of the 8 size buckets (DPDK's: &lt;64, 64, 65-127, 128-255, 256-511, 512-1023, 1024-1518, &gt;1518).</summary>
    public const int SizeBins = 4, SizeBinCount = 8;
    public const int GuestNotifications = 12, GuestNotificationsOffloaded = 13, GuestNotificationsError = 14,
        GuestNotificationsSuppressed = 15, MbufAllocFailed = 16;
    /// <summary>Packed rings: descriptors moved by the batch-of-4 path (the rest went one chain at a time).</summary>
    public const int PackedBatchDescriptors = 17;
    /// <summary>
    /// Live migration (VHOST_F_LOG_ALL): dirty-log bits this vring's bursts set (a page written by several bursts
    /// counts once per burst), and the log-cache flushes that wrote them. Counted on the logging path only, whatever
    /// the stats switch says (like drops: logging is already the cold path).
    /// </summary>
    public const int LogPagesMarked = 18, LogCacheFlushes = 19;
    /// <summary>Drop counter of reason r is at <c>FirstDrop + (r - 1)</c>.</summary>
    public const int FirstDrop = 20;
    public static readonly int DropReasonCount = Enum.GetValues<DropReason>().Length - 1;
    /// <summary>
    /// VIRTIO_F_IOMMU_PLATFORM: guest addresses the IOTLB translated for this vring's bursts, and lookups it could not
    /// (each sent the frontend one IOTLB miss, or found one already pending). DPDK's iotlb_hits / iotlb_misses; counted
    /// on the IOTLB path only, whatever the stats switch says. After the drop counters.
    /// </summary>
    public static readonly int IotlbHits = FirstDrop + DropReasonCount, IotlbMisses = IotlbHits + 1;
    /// <summary>
    /// The async copy path (HP_VHOST_USER_ASYNC_COPY): packets a submit (or an async dequeue) took, and packets a poll
    /// (or an async dequeue) handed back with their copies completed. DPDK's inflight_submitted / inflight_completed; their
    /// difference is what is in flight. Counted once per call, whatever the stats switch says.
    /// </summary>
    public static readonly int InflightSubmitted = IotlbMisses + 1, InflightCompleted = InflightSubmitted + 1;
    public static readonly int Count = InflightCompleted + 1;

    private ulong* _c;

    public VringStats()
    {
        nuint bytes = (nuint)(((Count * sizeof(ulong)) + 63) & ~63);
        _c = (ulong*)NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(_c, bytes);
    }

    ~VringStats() => Free();

    /// <summary>The counter at <paramref name="index"/> (see the constants and <see cref="VringStatNames"/>).</summary>
    public ulong this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index));
            // SAFETY: index < Count, the allocation holds Count words.
            return Volatile.Read(ref _c[index]);
        }
    }

    /// <summary>Drops counted for <paramref name="reason"/>.</summary>
    public ulong Drops(DropReason reason) => reason == DropReason.None ? 0 : this[FirstDrop + (int)reason - 1];

    /// <summary>Sum of every drop counter.</summary>
    public ulong TotalDrops
    {
        get
        {
            ulong sum = 0;
            for (int i = FirstDrop; i < FirstDrop + DropReasonCount; i++) sum += Volatile.Read(ref _c[i]);
            return sum;
        }
    }

    /// <summary>Copies up to <c>dst.Length</c> counters into <paramref name="dst"/>; returns how many were written.</summary>
    public int CopyTo(Span<ulong> dst)
    {
        int n = Math.Min(dst.Length, Count);
        for (int i = 0; i < n; i++) dst[i] = Volatile.Read(ref _c[i]);
        return n;
    }

    /// <summary>Zeroes every counter (hp_vhost_vring_stats_reset). Call with the vring's access lock held.</summary>
    public void Reset() => NativeMemory.Clear(_c, (nuint)(Count * sizeof(ulong)));

    // ---- datapath side ----

    /// <summary>Counts one dropped chain. Always on: drops are rare and must never go unseen.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Drop(DropReason reason)
    {
        Debug.Assert(reason != DropReason.None);
        // SAFETY: every reason but None maps inside [FirstDrop, Count).
        _c[FirstDrop - 1 + (int)reason]++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Add(int index, ulong n)
    {
        Debug.Assert((uint)index < (uint)Count);
        // SAFETY: callers pass one of the constants above.
        _c[index] += n;
    }

    /// <summary>
    /// Counts the packets of a completed burst (DPDK's vhost_queue_stats_update): packets, bytes, size buckets,
    /// multicast and broadcast. The caller guards it with the device's stats switch.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void CountPackets(Mbuf** pkts, int n)
    {
        ulong* c = _c;
        ulong bytes = 0;
        for (int i = 0; i < n; i++)
        {
            Mbuf* m = pkts[i];
            uint len = m->PktLen;
            bytes += len;
            c[SizeBins + SizeBin(len)]++;
            if (m->DataLen >= 6)
            {
                byte* dst = m->Data;
                if ((dst[0] & 1) != 0)
                {
                    // SAFETY: DataLen >= 6, so the destination MAC lies inside the first segment.
                    bool bcast = *(uint*)dst == 0xFFFF_FFFF && *(ushort*)(dst + 4) == 0xFFFF;
                    c[bcast ? Broadcast : Multicast]++;
                }
            }
        }
        c[GoodPackets] += (ulong)n;
        c[GoodBytes] += bytes;
    }

    /// <summary>DPDK's size buckets: &lt;64, 64, 65-127, 128-255, 256-511, 512-1023, 1024-1518, &gt;1518.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int SizeBin(uint len)
    {
        if (len < 64) return 0;
        if (len == 64) return 1;
        if (len < 1024) return BitOperations.Log2(len) - 4;   // 65-127 → 2 ... 512-1023 → 5
        return len <= 1518 ? 6 : 7;
    }

    private void Free()
    {
        if (_c == null) return;
        NativeMemory.AlignedFree(_c);
        _c = null;
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }
}
