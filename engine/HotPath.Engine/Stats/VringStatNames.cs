namespace HotPath.Engine.Stats;

/// <summary>
/// Stable names of the per-vring counters, in <see cref="VringStats"/> index order (hp_vhost_vring_stats_get_names).
/// The traffic names are DPDK's; each drop reason is <c>drop_</c> plus its snake-case name.
/// </summary>
public static class VringStatNames
{
    /// <summary>Longest name including the terminating NUL (DPDK's RTE_VHOST_STATS_NAME_SIZE).</summary>
    public const int MaxNameBytes = 64;

    public static readonly string[] All = Build();

    private static string[] Build()
    {
        var names = new string[VringStats.Count];
        names[VringStats.GoodPackets] = "good_packets";
        names[VringStats.GoodBytes] = "good_bytes";
        names[VringStats.Multicast] = "multicast_packets";
        names[VringStats.Broadcast] = "broadcast_packets";
        string[] bins =
        {
            "undersize_packets", "size_64_packets", "size_65_127_packets", "size_128_255_packets",
            "size_256_511_packets", "size_512_1023_packets", "size_1024_1518_packets", "size_1519_max_packets",
        };
        bins.CopyTo(names, VringStats.SizeBins);
        names[VringStats.GuestNotifications] = "guest_notifications";
        names[VringStats.GuestNotificationsOffloaded] = "guest_notifications_offloaded";
        names[VringStats.GuestNotificationsError] = "guest_notifications_error";
        names[VringStats.GuestNotificationsSuppressed] = "guest_notifications_suppressed";
        names[VringStats.MbufAllocFailed] = "mbuf_alloc_failed";
        names[VringStats.PackedBatchDescriptors] = "packed_batch_descriptors";
        names[VringStats.LogPagesMarked] = "log_pages_marked";
        names[VringStats.LogCacheFlushes] = "log_cache_flushes";
        foreach (DropReason r in Enum.GetValues<DropReason>())
            if (r != DropReason.None) names[VringStats.FirstDrop + (int)r - 1] = "drop_" + SnakeCase(r);
        names[VringStats.IotlbHits] = "iotlb_hits";
        names[VringStats.IotlbMisses] = "iotlb_misses";
        names[VringStats.InflightSubmitted] = "inflight_submitted";
        names[VringStats.InflightCompleted] = "inflight_completed";
        return names;
    }

    /// <summary>The counter name of a drop reason (e.g. <c>drop_desc_index_out_of_range</c>).</summary>
    public static string Of(DropReason r) => r == DropReason.None ? "" : All[VringStats.FirstDrop + (int)r - 1];

    private static string SnakeCase(DropReason r)
    {
        string s = r.ToString();
        var sb = new System.Text.StringBuilder(s.Length + 8);
        for (int i = 0; i < s.Length; i++)
        {
            char ch = s[i];
            if (char.IsUpper(ch))
            {
                if (i > 0) sb.Append('_');
                sb.Append(char.ToLowerInvariant(ch));
            }
            else sb.Append(ch);
        }
        return sb.ToString();
    }
}
