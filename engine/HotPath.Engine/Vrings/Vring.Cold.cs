using HotPath.Engine.Inflight;
using HotPath.Engine.Logging;
using HotPath.Engine.Stats;

namespace HotPath.Engine.Vrings;

/// <summary>
/// The cold features a burst on this ring must honour: dirty logging (VHOST_F_LOG_ALL with a log mapped) and inflight
/// tracking (INFLIGHT_SHMFD with a region). <see cref="ColdFeatures"/> is 0 on the fast path: a burst tests it once,
/// at publication, and only when it is not 0 calls the NoInlining slow path. The control plane recomputes it
/// (<see cref="VhostDevice.RefreshColdLocked"/>) with the access lock held whenever features, the log, the inflight
/// region or the ring addresses change, so a burst sees a value consistent with the state it uses.
/// </summary>
public sealed unsafe partial class Vring
{
    public const int ColdLog = 1, ColdInflight = 2;

    /// <summary><see cref="ColdLog"/> | <see cref="ColdInflight"/>, or 0.</summary>
    internal int ColdFeatures;

    /// <summary>The device's dirty log while logging is on (<see cref="ColdLog"/>), else null.</summary>
    internal DirtyLog? ActiveLog;

    /// <summary>
    /// Logs a device write of <paramref name="len"/> bytes at <paramref name="offset"/> of the used ring (split
    /// used.flags, for instance) when logging is on and the ring has VHOST_VRING_F_LOG. Cold: control-plane changes
    /// and feature switches only. Call after the write (the bit must not be set before the data it names).
    /// </summary>
    internal void LogUsedWrite(ulong offset, ulong len)
    {
        if (LogUsed && ActiveLog is { } log) Stats.Add(VringStats.LogPagesMarked, log.MarkRange(UsedLogGpa + offset, len));
    }

    /// <summary>
    /// True when used-ring writes are logged (VHOST_VRING_F_LOG in SET_VRING_ADDR), at <see cref="UsedLogGpa"/> plus
    /// the offset in the used ring.
    /// </summary>
    internal bool LogUsed;

    /// <summary>
    /// Where used-ring writes are logged. Split: log_guest_addr, as the spec, DPDK and the kernel do (under
    /// IOMMU_PLATFORM its translation, <see cref="LogGuestPhysAddr"/>). Packed: the
    /// descriptor ring's own guest physical address, since the used descriptors are written there (DPDK adds their
    /// offset to log_guest_addr, but QEMU sends the device event area's address for a packed ring, so that marks
    /// pages the device never wrote and misses the ones it did).
    /// </summary>
    internal ulong UsedLogGpa;

    /// <summary>Guest physical address of the descriptor table (of the packed ring's descriptors).</summary>
    public ulong DescGuestPhysAddr { get; private set; }

    /// <summary>Inflight tracking of this ring, while an inflight region covers it; used with the access lock held.</summary>
    public InflightQueue? Inflight { get; internal set; }

    /// <summary>Entries the ring started with that were still inflight (resubmitted by the built-in datapath).</summary>
    public int InflightResubmitted { get; internal set; }
}
