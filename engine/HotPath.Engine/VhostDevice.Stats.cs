using HotPath.Engine.Interop;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine;

/// <summary>
/// Per-vring statistics for the C API (hp_vhost_vring_stats_get_names / _get / _reset, DPDK's semantics): the
/// device must have stats enabled (NET_STATS_ENABLE) and the queue must exist, else -EINVAL / -ENOTSUP.
/// </summary>
public sealed partial class VhostDevice
{
    /// <summary>Names of the counters, in the order <see cref="VringStatsGet"/> fills them (identical for every queue).</summary>
    public int VringStatsNames(int queueId, out IReadOnlyList<string> names)
    {
        names = VringStatNames.All;
        return CheckStatsQueue(queueId, out _) is var e && e < 0 ? e : VringStats.Count;
    }

    /// <summary>
    /// Copies the counters of vring <paramref name="queueId"/> into <paramref name="values"/>; returns the number of
    /// counters (when <paramref name="values"/> is shorter, it is filled as far as it goes: the caller sizes it from
    /// the return value, as with DPDK) or a negative errno.
    /// </summary>
    public int VringStatsGet(int queueId, Span<ulong> values)
    {
        int e = CheckStatsQueue(queueId, out Vring? vq);
        if (e < 0) return e;
        vq!.Stats.CopyTo(values);
        return VringStats.Count;
    }

    /// <summary>Zeroes the counters of vring <paramref name="queueId"/> (waits for a running burst on it).</summary>
    public int VringStatsReset(int queueId)
    {
        int e = CheckStatsQueue(queueId, out Vring? vq);
        if (e < 0) return e;
        vq!.AccessLock.Enter();
        try { vq.Stats.Reset(); }
        finally { vq.AccessLock.Exit(); }
        return 0;
    }

    private int CheckStatsQueue(int queueId, out Vring? vq)
    {
        vq = GetVring(queueId);
        if (vq == null) return -LibC.EINVAL;
        return StatsEnabled ? 0 : -LibC.ENOTSUP;
    }
}
