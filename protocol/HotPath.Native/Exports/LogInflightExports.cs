using System.Runtime.InteropServices;
using HotPath.Engine;
using HotPath.Engine.Inflight;
using HotPath.Engine.Interop;
using HotPath.Engine.Logging;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Native.Interop;
using HotPath.Protocol.Control;
using PF = HotPath.Protocol.Wire.ProtocolFeatures;

namespace HotPath.Native.Exports;

/// <summary>
/// Live migration (dirty log), inflight tracking and the backend's config-change request, with DPDK's semantics.
/// The log functions are the engine's (<see cref="VhostDevice.LogWrite"/>, <see cref="VhostDevice.LogUsedRing"/>),
/// the same code the bursts use. The inflight functions work on the vring's <see cref="InflightQueue"/> with the
/// vring's access lock held, so a SET_INFLIGHT_FD or a disconnect cannot unmap the region under them; every index
/// is bounded by the region's entries (SECURITY.md 7). As DPDK, they succeed doing nothing when INFLIGHT_SHMFD was
/// not negotiated, so an application calls them unconditionally.
/// </summary>
internal static unsafe class LogInflightExports
{
    // ---- dirty log ----

    /// <summary>Marks [gpa, gpa+len) dirty while VHOST_F_LOG_ALL is negotiated and a log is mapped (else a no-op).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_log_write")]
    public static void LogWrite(int vid, ulong gpa, ulong len)
    {
        const string fn = "hp_vhost_log_write";
        try
        {
            Args.Device(fn, vid)?.LogWrite(gpa, len);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
        }
    }

    /// <summary>
    /// Marks [offset, offset+len) of vring <paramref name="vringIdx"/>'s used ring dirty (split: at its log address;
    /// packed: in the descriptor ring) while logging is on and the ring has VHOST_VRING_F_LOG (else a no-op, as
    /// DPDK). A range outside the ring is refused (hp_last_error says so).
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_log_used_vring")]
    public static void LogUsedVring(int vid, ushort vringIdx, ulong offset, ulong len)
    {
        const string fn = "hp_vhost_log_used_vring";
        try
        {
            Vring? v = Args.Vring(fn, vid, vringIdx, out VhostSession? s);
            if (v == null) return;
            if (s!.Device.LogUsedRing(v, offset, len) == LogUsedResult.OutsideRing)
                LastError.Set(fn, $"offset {offset} + len {len} is past the used ring of vring {vringIdx} ({v.Size} entries)");
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
        }
    }

    /// <summary>The mapped log's host address and size in bytes (0, 0 when there is none), as DPDK.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_log_base")]
    public static int GetLogBase(int vid, ulong* logBase, ulong* logSize)
    {
        const string fn = "hp_vhost_get_log_base";
        try
        {
            VhostSession? s = Args.Session(fn, vid);
            if (s == null || !Args.NotNull(fn, "log_base", logBase) || !Args.NotNull(fn, "log_size", logSize)) return -1;
            DirtyLog? log = s.Device.Log;
            *logBase = log == null ? 0 : (ulong)log.Base;
            *logSize = log?.Size ?? 0;
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    /// <summary>The device's dirty-logging counters (<see cref="VhostDevice.ReadLogStats"/>).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_log_stats")]
    public static int GetLogStats(int vid, NativeLogStats* stats)
    {
        const string fn = "hp_vhost_get_log_stats";
        try
        {
            VhostSession? s = Args.Session(fn, vid);
            if (s == null || !Args.NotNull(fn, "stats", stats)) return -1;
            LogStats l = s.Device.ReadLogStats();
            *stats = new NativeLogStats { PagesMarked = l.PagesMarked, CacheFlushes = l.CacheFlushes };
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    // ---- inflight ----

    /// <summary>
    /// The vring's queue region of the inflight area and its resubmit list (NULL when nothing was left inflight).
    /// Both stay valid until the region is replaced or the device is destroyed. The list is malloc'ed: an
    /// application may free() it once resubmitted, if it then sets resubmit_list to NULL (DPDK's vhost_blk does both).
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_vhost_ring_inflight")]
    public static int GetVhostRingInflight(int vid, ushort vringIdx, NativeRingInflight* vring)
    {
        const string fn = "hp_vhost_get_vhost_ring_inflight";
        try
        {
            if (!Args.NotNull(fn, "vring", vring)) return -1;
            if (Enter(fn, vid, vringIdx, packed: null, out Vring? v, out InflightQueue? q) <= 0) return -1;
            try
            {
                *vring = new NativeRingInflight { Inflight = q!.Queue, Resubmit = q.Resubmit };
                return 0;
            }
            finally { v!.AccessLock.Exit(); }
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    /// <summary>Packed rings after a reconnect: where to resume, from the region (old_used_idx | old wrap &lt;&lt; 15, both indexes).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_vring_base_from_inflight")]
    public static int GetVringBaseFromInflight(int vid, ushort queueId, ushort* lastAvailIdx, ushort* lastUsedIdx)
    {
        const string fn = "hp_vhost_get_vring_base_from_inflight";
        try
        {
            if (!Args.NotNull(fn, "last_avail_idx", lastAvailIdx) || !Args.NotNull(fn, "last_used_idx", lastUsedIdx)) return -1;
            if (Enter(fn, vid, queueId, packed: true, out Vring? v, out InflightQueue? q) <= 0) return -1;
            try
            {
                *lastAvailIdx = *lastUsedIdx = InflightPacked.BaseFromRegion(q!);
                return 0;
            }
            finally { v!.AccessLock.Exit(); }
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_set_inflight_desc_split")]
    public static int SetInflightDescSplit(int vid, ushort vringIdx, ushort idx) =>
        Split("hp_vhost_set_inflight_desc_split", vid, vringIdx, idx, SplitOp.Take, 0);

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_set_last_inflight_io_split")]
    public static int SetLastInflightIoSplit(int vid, ushort vringIdx, ushort idx) =>
        Split("hp_vhost_set_last_inflight_io_split", vid, vringIdx, idx, SplitOp.AddToBatch, 0);

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_clr_inflight_desc_split")]
    public static int ClrInflightDescSplit(int vid, ushort vringIdx, ushort lastUsedIdx, ushort idx) =>
        Split("hp_vhost_clr_inflight_desc_split", vid, vringIdx, idx, SplitOp.Clear, lastUsedIdx);

    private enum SplitOp { Take, AddToBatch, Clear }

    private static int Split(string fn, int vid, ushort vringIdx, ushort idx, SplitOp op, ushort usedIdx)
    {
        try
        {
            int st = Enter(fn, vid, vringIdx, packed: false, out Vring? v, out InflightQueue? q, marks: true);
            if (st <= 0) return st;
            try
            {
                bool ok = op switch
                {
                    SplitOp.Take => InflightSplit.Take(q!, idx),
                    SplitOp.AddToBatch => InflightSplit.AddToBatch(q!, idx),
                    _ => InflightSplit.Clear(q!, idx, usedIdx),
                };
                return ok ? 0 : OutOfRange(fn, idx, q!, vringIdx);
            }
            finally { v!.AccessLock.Exit(); }
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    /// <summary>The chain in ring slots head..last was taken; *inflight_entry gets its entry in the region.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_set_inflight_desc_packed")]
    public static int SetInflightDescPacked(int vid, ushort vringIdx, ushort head, ushort last, ushort* inflightEntry)
    {
        const string fn = "hp_vhost_set_inflight_desc_packed";
        try
        {
            if (!Args.NotNull(fn, "inflight_entry", inflightEntry)) return -1;
            int st = Enter(fn, vid, vringIdx, packed: true, out Vring? v, out InflightQueue? q, marks: true);
            if (st <= 0) return st;
            try
            {
                if (InflightPacked.Take(q!, (VringPackedDesc*)v!.Desc, head, last, out ushort entry))
                {
                    *inflightEntry = entry;
                    return 0;
                }
                return LastError.Set(fn, $"slots {head}..{last} of vring {vringIdx} ({v.Size} entries) cannot be tracked: " +
                    "an index is out of range, or the region's free list is shorter than the chain or corrupt");
            }
            finally { v!.AccessLock.Exit(); }
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_set_last_inflight_io_packed")]
    public static int SetLastInflightIoPacked(int vid, ushort vringIdx, ushort head) =>
        Packed("hp_vhost_set_last_inflight_io_packed", vid, vringIdx, head, clear: false);

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_clr_inflight_desc_packed")]
    public static int ClrInflightDescPacked(int vid, ushort vringIdx, ushort head) =>
        Packed("hp_vhost_clr_inflight_desc_packed", vid, vringIdx, head, clear: true);

    private static int Packed(string fn, int vid, ushort vringIdx, ushort entry, bool clear)
    {
        try
        {
            int st = Enter(fn, vid, vringIdx, packed: true, out Vring? v, out InflightQueue? q, marks: true);
            if (st <= 0) return st;
            try
            {
                bool ok = clear ? InflightPacked.Clear(q!, entry) : InflightPacked.AddToBatch(q!, entry);
                return ok ? 0 : OutOfRange(fn, entry, q!, vringIdx);
            }
            finally { v!.AccessLock.Exit(); }
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    private static int OutOfRange(string fn, ushort idx, InflightQueue q, ushort vringIdx) =>
        LastError.Set(fn, $"entry {idx} of vring {vringIdx} is outside its {q.Entries} inflight entries" +
            (q.Packed ? ", or the region names entries outside it" : ""));

    /// <summary>
    /// Takes the vring's access lock and returns its inflight tracking: 1 with the lock held; 0 for a marking
    /// function (<paramref name="marks"/>) when INFLIGHT_SHMFD was not negotiated (DPDK's "nothing to do"); -1 with
    /// the reason recorded.
    /// </summary>
    private static int Enter(string fn, int vid, ushort vringIdx, bool? packed, out Vring? v, out InflightQueue? q,
        bool marks = false)
    {
        q = null;
        v = Args.Vring(fn, vid, vringIdx, out VhostSession? s);
        if (v == null) return -1;
        if (marks && !PF.Has(s!.ProtocolFeatures, PF.InflightShmfd)) return 0;
        if (packed is bool p && p != s!.Device.IsPacked)
            return LastError.Set(fn, $"vid {vid} uses {(s.Device.IsPacked ? "packed" : "split")} rings");
        v.AccessLock.Enter();
        q = v.Inflight;
        if (q != null) return 1;
        v.AccessLock.Exit();
        return LastError.Set(fn, s!.Device.Inflight == null
            ? $"vid {vid} has no inflight region (INFLIGHT_SHMFD not negotiated, or no GET/SET_INFLIGHT_FD yet)"
            : $"vring {vringIdx} is not tracked: not started yet, or beyond the {s.Device.Inflight.NumQueues} queues of the inflight region",
            LibC.ENOENT);
    }

    // ---- backend request channel ----

    /// <summary>
    /// rte_vhost_slave_config_change: CONFIG_CHANGE_MSG to the frontend, waiting at most 5 s for its ack when
    /// <paramref name="needReply"/>. 0 or a negative errno (see <see cref="VhostSession.SendConfigChange"/>).
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_backend_config_change")]
    public static int BackendConfigChange(int vid, byte needReply)
    {
        const string fn = "hp_vhost_backend_config_change";
        try
        {
            VhostSession? s = DeviceRegistry.Get(vid);
            if (s == null) return Args.Errno(fn, $"vid {vid} is not a connected device", LibC.ENODEV);
            int rc = s.SendConfigChange(needReply != 0, VhostSession.BackendReplyTimeout, out string error);
            return rc == 0 ? 0 : Args.Errno(fn, error, -rc);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return -LibC.EIO;
        }
    }
}
