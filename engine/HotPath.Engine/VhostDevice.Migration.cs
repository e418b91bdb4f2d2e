using HotPath.Engine.Logging;
using HotPath.Engine.Vrings;

namespace HotPath.Engine;

/// <summary>
/// Live migration: the dirty log (SET_LOG_BASE; VHOST_F_LOG_ALL switches logging on and off at any time, also while
/// the device runs), the cold-feature flags that route a burst's publication through the logging path, the log
/// functions of the C API, and the RARP announcement the frontend asks for after a migration (SEND_RARP).
/// </summary>
public sealed unsafe partial class VhostDevice
{
    /// <summary>The dirty log from SET_LOG_BASE, or null.</summary>
    public DirtyLog? Log { get; private set; }

    /// <summary>True while writes are logged: VHOST_F_LOG_ALL negotiated and a log mapped.</summary>
    public bool Logging => Log != null && VirtioFeatures.Has(Features, VirtioFeatures.LogAll);

    /// <summary>
    /// Replaces the dirty log under every vring lock (no burst is logging into the old one) and releases the old one
    /// once the C API's writers are out of it (<see cref="DirtyLog.Dispose"/>).
    /// </summary>
    public void SetLog(DirtyLog? log)
    {
        DirtyLog? old;
        using (HoldAll())
        {
            old = Log;
            Log = log;
            RefreshColdAllLocked();
        }
        if (!ReferenceEquals(old, log)) old?.Dispose();
    }

    /// <summary>
    /// Recomputes the cold-feature flags of <paramref name="v"/> from the features, the log, the ring's LOG flag and
    /// its inflight tracking. Call with the vring's access lock held.
    /// </summary>
    internal void RefreshColdLocked(Vring v)
    {
        int cold = 0;
        if (Logging) cold |= Vring.ColdLog;
        if (v.Inflight != null) cold |= Vring.ColdInflight;
        v.LogUsed = (v.AddrFlags & Vring.AddrFlagLog) != 0;
        v.UsedLogGpa = v.IsPacked ? v.DescGuestPhysAddr : v.LogGuestPhysAddr;
        v.ActiveLog = (cold & Vring.ColdLog) != 0 ? Log : null;
        v.ColdFeatures = cold;
    }

    /// <summary>Recomputes every vring's cold-feature flags. Call with every access lock held.</summary>
    private void RefreshColdAllLocked()
    {
        for (int i = 0; i < VringCount; i++)
            if (_vrings[i] is { } v) RefreshColdLocked(v);
    }

    /// <summary>
    /// rte_vhost_log_write: marks [gpa, gpa+len) dirty while logging is on (a no-op otherwise, as DPDK). Callable from
    /// any thread at any time: the log is pinned for the duration, so a SET_LOG_BASE meanwhile cannot unmap it.
    /// </summary>
    public void LogWrite(ulong gpa, ulong len)
    {
        DirtyLog? log = Log;
        if (log == null || !VirtioFeatures.Has(Features, VirtioFeatures.LogAll) || !log.TryPin()) return;
        try { CountApiLogPages(log.MarkRange(gpa, len)); }
        finally { log.Unpin(); }
    }

    /// <summary>
    /// rte_vhost_log_used_vring: marks [offset, offset+len) of vring <paramref name="v"/>'s used ring dirty (split:
    /// the used ring at log_guest_addr; packed: the descriptor ring, whose descriptors the device marks used) while
    /// logging is on and the ring has VHOST_VRING_F_LOG. The range must lie inside that ring.
    /// </summary>
    public LogUsedResult LogUsedRing(Vring v, ulong offset, ulong len)
    {
        DirtyLog? log = Log;
        if (log == null || !VirtioFeatures.Has(Features, VirtioFeatures.LogAll)) return LogUsedResult.NotLogging;
        if (!v.LogUsed) return LogUsedResult.RingNotLogged;
        ulong bytes = v.IsPacked ? PackedRingLayout.DescBytes(v.Size) : SplitRingLayout.UsedBytes(v.Size);
        if (offset > bytes || len > bytes - offset) return LogUsedResult.OutsideRing;
        if (!log.TryPin()) return LogUsedResult.NotLogging;
        try { CountApiLogPages(log.MarkRange(v.UsedLogGpa + offset, len)); }
        finally { log.Unpin(); }
        return LogUsedResult.Logged;
    }

    // ---- SEND_RARP ----

    /// <summary>MAC of the last SEND_RARP; a RARP frame for it is pending while <see cref="RarpPending"/> is true.</summary>
    public byte[]? RarpMac { get; private set; }
    private int _rarpPending;
    public bool RarpPending => Volatile.Read(ref _rarpPending) != 0;

    /// <summary>SEND_RARP: the next dequeue burst announces <paramref name="mac"/> (after a live migration).</summary>
    public void RequestRarp(byte[] mac)
    {
        RarpMac = mac;
        // Release: a burst that sees the flag sees the MAC stored before it.
        Volatile.Write(ref _rarpPending, 1);
    }

    /// <summary>Claims the pending RARP announcement; true for exactly one caller.</summary>
    public bool TakeRarp() => Interlocked.Exchange(ref _rarpPending, 0) != 0;
}

/// <summary>What <see cref="VhostDevice.LogUsedRing"/> did.</summary>
public enum LogUsedResult
{
    Logged,
    /// <summary>VHOST_F_LOG_ALL is not negotiated or no log is mapped: nothing to do (as DPDK).</summary>
    NotLogging,
    /// <summary>The ring was set up without VHOST_VRING_F_LOG: its used ring is not logged (as DPDK).</summary>
    RingNotLogged,
    /// <summary>offset + len reaches past the ring.</summary>
    OutsideRing,
}
