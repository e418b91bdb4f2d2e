using HotPath.Engine.Stats;

namespace HotPath.Engine.Vrings;

/// <summary>
/// Datapath state of a vring that does not depend on the ring type: statistics, notification bookkeeping, and the
/// reset that runs whenever the control plane (re)translates the ring or changes its base.
/// </summary>
public sealed unsafe partial class Vring
{
    /// <summary>Per-vring counters (hp_vhost_vring_stats_*).</summary>
    public VringStats Stats { get; } = new VringStats();

    /// <summary>Used index at the last guest notification check (EVENT_IDX; packed: index | wrap &lt;&lt; 15); valid once
    /// <see cref="SignalledUsedValid"/>.</summary>
    internal ushort SignalledUsed;
    internal bool SignalledUsedValid;

    /// <summary>1 while the application's guest_notify hook owns a notification it has not delivered yet.</summary>
    internal int IrqPending;

    /// <summary>Managed id of the thread running the guest_notify hook of this ring (0: none), so that a hook that
    /// calls <see cref="VhostDevice.NotifyGuest"/> from inside the burst does not wait for the lock its own burst holds.</summary>
    internal volatile int NotifyingThread;

    /// <summary>
    /// The feature bits kick suppression was last set up for (ulong.MaxValue: not yet). The burst compares it with the
    /// device's features and sets the used flags again when they differ.
    /// </summary>
    internal ulong KickSuppressionFeatures = ulong.MaxValue;

    /// <summary>
    /// The application asked the guest to kick (rte_vhost_enable_guest_notification(..., 1): interrupt mode). False
    /// (the default, as DPDK's polling backends): kicks are suppressed. Survives ring re-translation and feature
    /// changes; reset with the ring.
    /// </summary>
    public bool GuestKicksWanted { get; private set; }

    /// <summary>
    /// Switches guest kicks on or off and writes the ring's suppression fields now (the ring translated). Ends with a full fence: a caller that enabled kicks and then checks the ring for
    /// work sees every buffer the guest made available before it could have read our fields, so none is missed
    /// between "found nothing" and "sleep on the kick fd".
    /// </summary>
    internal void SetGuestKicks(bool wanted, ulong features, in VringLockScope held)
    {
        Debug.Assert(held.Covers(this));
        GuestKicksWanted = wanted;
        if (IsPacked) ApplyPackedKickSuppression(features);
        else ApplySplitKickSuppression(features);
        Interlocked.MemoryBarrier();
    }

    /// <summary>
    /// Back to a clean datapath state for the ring as now configured: called when the ring is (re)translated, when its
    /// base changes, and on reset. Runs with the access lock held (no burst in flight).
    /// </summary>
    private void ResetDatapath(in VringLockScope held)
    {
        Debug.Assert(held.Covers(this));
        SignalledUsed = 0;
        SignalledUsedValid = false;
        // A notification the application's hook still holds is for the ring as it was; do not let it mute the new one.
        Volatile.Write(ref IrqPending, 0);
        KickSuppressionFeatures = ulong.MaxValue;
        if (!IsTranslated) return;
        if (IsPacked) PreparePacked();
        else PrepareSplit();
    }

    /// <summary>Frees the native datapath memory (the device is going away).</summary>
    internal void ReleaseDatapath(in VringLockScope held)
    {
        Debug.Assert(held.Covers(this));
        _splitScratch?.Dispose();
        _splitScratch = null;
        _packedScratch?.Dispose();
        _packedScratch = null;
        // Settled when the lock was taken: only packets the application never polled back are left.
        Async?.Release();
        Async = null;
    }
}
