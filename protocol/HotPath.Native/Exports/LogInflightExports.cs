using System.Runtime.InteropServices;
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
/// Live migration (dirty log) and inflight tracking. What the engine supports today is implemented: the dirty log
/// (<see cref="DirtyLog"/>), the inflight region of GET/SET_INFLIGHT_FD (<see cref="InflightRegion"/>). Marking
/// inflight descriptors and the backend's config-change request need engine/protocol state that is not there yet
/// (a per-vring inflight counter, the backend request channel); those functions check every argument and then
/// refuse with ENOSYS/ENOTSUP and a reason naming what is missing.
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
            VhostSession? s = Args.Session(fn, vid);
            if (s == null) return;
            DirtyLog? log = ActiveLog(s);
            log?.MarkRange(gpa, len);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
        }
    }

    /// <summary>Marks [offset, offset+len) of vring <paramref name="vringIdx"/>'s used ring dirty (by its log address).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_log_used_vring")]
    public static void LogUsedVring(int vid, ushort vringIdx, ulong offset, ulong len)
    {
        const string fn = "hp_vhost_log_used_vring";
        try
        {
            Vring? v = Args.Vring(fn, vid, vringIdx, out VhostSession? s);
            if (v == null) return;
            DirtyLog? log = ActiveLog(s!);
            if (log == null) return;
            ulong usedBytes = v.IsPacked ? PackedRingLayout.EventBytes : SplitRingLayout.UsedBytes(v.Size);
            if (offset > usedBytes || len > usedBytes - offset)
            {
                LastError.Set(fn, $"offset {offset} + len {len} is past the {usedBytes}-byte used ring of vring {vringIdx}");
                return;
            }
            if ((v.AddrFlags & Vring.AddrFlagLog) == 0)
            {
                LastError.Set(fn, $"vring {vringIdx} has no log address (SET_VRING_ADDR without VHOST_VRING_F_LOG)");
                return;
            }
            log.MarkRange(v.LogGuestAddr + offset, len);
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

    /// <summary>The device's log when logging is on (LOG_ALL negotiated and SET_LOG_BASE received), else null.</summary>
    private static DirtyLog? ActiveLog(VhostSession s) =>
        VirtioFeatures.Has(s.Device.Features, VirtioFeatures.LogAll) ? s.Device.Log : null;

    // ---- inflight ----

    /// <summary>The vring's queue region of the inflight area; the resubmit list is NULL (not built by the engine yet).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_vhost_ring_inflight")]
    public static int GetVhostRingInflight(int vid, ushort vringIdx, NativeRingInflight* vring)
    {
        const string fn = "hp_vhost_get_vhost_ring_inflight";
        try
        {
            if (!Args.NotNull(fn, "vring", vring)) return -1;
            InflightRegion? region = Region(fn, vid, vringIdx, packed: null);
            if (region == null) return -1;
            *vring = new NativeRingInflight { Inflight = region.Queue(vringIdx), Resubmit = null };
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    /// <summary>Packed rings after a reconnect: the indexes saved in the inflight region (old used idx and wrap).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_vring_base_from_inflight")]
    public static int GetVringBaseFromInflight(int vid, ushort queueId, ushort* lastAvailIdx, ushort* lastUsedIdx)
    {
        const string fn = "hp_vhost_get_vring_base_from_inflight";
        try
        {
            if (!Args.NotNull(fn, "last_avail_idx", lastAvailIdx) || !Args.NotNull(fn, "last_used_idx", lastUsedIdx)) return -1;
            InflightRegion? region = Region(fn, vid, queueId, packed: true);
            if (region == null) return -1;
            var info = (NativeInflightPackedHeader*)region.Queue(queueId);
            ushort idx = (ushort)((info->OldUsedIdx & 0x7FFF) | (info->OldUsedWrapCounter != 0 ? 0x8000 : 0));
            *lastAvailIdx = idx;
            *lastUsedIdx = idx;
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_set_inflight_desc_split")]
    public static int SetInflightDescSplit(int vid, ushort vringIdx, ushort idx) =>
        NeedsEngine("hp_vhost_set_inflight_desc_split", vid, vringIdx, packed: false, idx, idx, null);

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_set_inflight_desc_packed")]
    public static int SetInflightDescPacked(int vid, ushort vringIdx, ushort head, ushort last, ushort* inflightEntry)
    {
        const string fn = "hp_vhost_set_inflight_desc_packed";
        if (inflightEntry == null)
        {
            LastError.Null(fn, "inflight_entry");
            return -1;
        }
        return NeedsEngine(fn, vid, vringIdx, packed: true, head, last, inflightEntry);
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_set_last_inflight_io_split")]
    public static int SetLastInflightIoSplit(int vid, ushort vringIdx, ushort idx) =>
        NeedsEngine("hp_vhost_set_last_inflight_io_split", vid, vringIdx, packed: false, idx, idx, null);

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_set_last_inflight_io_packed")]
    public static int SetLastInflightIoPacked(int vid, ushort vringIdx, ushort head) =>
        NeedsEngine("hp_vhost_set_last_inflight_io_packed", vid, vringIdx, packed: true, head, head, null);

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_clr_inflight_desc_split")]
    public static int ClrInflightDescSplit(int vid, ushort vringIdx, ushort lastUsedIdx, ushort idx) =>
        NeedsEngine("hp_vhost_clr_inflight_desc_split", vid, vringIdx, packed: false, idx, idx, null);

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_clr_inflight_desc_packed")]
    public static int ClrInflightDescPacked(int vid, ushort vringIdx, ushort head) =>
        NeedsEngine("hp_vhost_clr_inflight_desc_packed", vid, vringIdx, packed: true, head, head, null);

    /// <summary>
    /// Checks an inflight-marking call completely (device, vring, region, ring type, entry indexes), then refuses it:
    /// marking entries needs a per-vring inflight counter and resubmit state in the engine (a later issue).
    /// </summary>
    private static int NeedsEngine(string function, int vid, ushort vringIdx, bool packed, ushort first, ushort last, ushort* entry)
    {
        try
        {
            InflightRegion? region = Region(function, vid, vringIdx, packed);
            if (region == null) return -1;
            if (first >= region.QueueSize || last >= region.QueueSize)
                return LastError.Set(function, $"entry {Math.Max(first, last)} is outside the {region.QueueSize} inflight entries of vring {vringIdx}");
            return LastError.Set(function,
                "inflight descriptor tracking is not in the engine yet (needs a per-vring inflight counter and resubmit list)",
                LibC.ENOSYS);
        }
        catch (Exception e)
        {
            return LastError.Set(function, e);
        }
    }

    /// <summary>
    /// The device's inflight region when it covers vring <paramref name="vringIdx"/> and (when given) is of the
    /// requested ring type; null with the reason otherwise.
    /// </summary>
    private static InflightRegion? Region(string function, int vid, ushort vringIdx, bool? packed)
    {
        Vring? v = Args.Vring(function, vid, vringIdx, out VhostSession? s);
        if (v == null) return null;
        InflightRegion? region = s!.Inflight;
        if (region == null)
        {
            LastError.Set(function, $"vid {vid} has no inflight region (INFLIGHT_SHMFD not negotiated, or no GET/SET_INFLIGHT_FD yet)", LibC.ENOENT);
            return null;
        }
        if (vringIdx >= region.NumQueues)
        {
            LastError.Set(function, $"vring {vringIdx} is beyond the {region.NumQueues} queues of the inflight region");
            return null;
        }
        if (packed is bool p && p != region.Packed)
        {
            LastError.Set(function, $"the inflight region of vid {vid} is for {(region.Packed ? "packed" : "split")} rings");
            return null;
        }
        return region;
    }

    // ---- backend request channel ----

    /// <summary>
    /// Checks that the frontend can take a config-change request (BACKEND_REQ and CONFIG negotiated, channel open), then
    /// refuses: sending backend requests (and waiting for the reply) is control-plane work of a later issue.
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_backend_config_change")]
    public static int BackendConfigChange(int vid, byte needReply)
    {
        const string fn = "hp_vhost_backend_config_change";
        try
        {
            VhostSession? s = DeviceRegistry.Get(vid);
            if (s == null) return Args.Errno(fn, $"vid {vid} is not a connected device", LibC.ENODEV);
            if (!PF.Has(s.ProtocolFeatures, PF.BackendReq) || !PF.Has(s.ProtocolFeatures, PF.Config))
                return Args.Errno(fn, $"vid {vid} did not negotiate the BACKEND_REQ and CONFIG protocol features", LibC.ENOTSUP);
            if (s.BackendReqFd < 0)
                return Args.Errno(fn, $"vid {vid} has no backend request channel (no SET_BACKEND_REQ_FD)", LibC.ENOTSUP);
            return Args.Errno(fn, $"sending CONFIG_CHANGE_MSG{(needReply != 0 ? " with NEED_REPLY" : "")} over the backend request channel is not in the control plane yet",
                LibC.ENOTSUP);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return -LibC.EIO;
        }
    }
}
