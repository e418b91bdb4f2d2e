using System.Runtime.InteropServices;
using HotPath.Engine.Interop;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Native.Interop;
using HotPath.Protocol.Control;

namespace HotPath.Native.Exports;

/// <summary>
/// <c>hp_vhost_*</c> queries and settings of one connected device (int vid): negotiated features, MTU, NUMA node,
/// vring count, ifname, vring bases and the per-message hooks. 0 on success, -1 (or the seed's negative errno) on
/// failure with the reason in hp_last_error().
/// </summary>
internal static unsafe class DeviceExports
{
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_negotiated_features")]
    public static int GetNegotiatedFeatures(int vid, ulong* features) =>
        ExportGuard.Query("hp_vhost_get_negotiated_features", vid, "features", features, s => s.Device.Features);

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_negotiated_protocol_features")]
    public static int GetNegotiatedProtocolFeatures(int vid, ulong* features) =>
        ExportGuard.Query("hp_vhost_get_negotiated_protocol_features", vid, "protocol_features", features, s => s.ProtocolFeatures);

    /// <summary>As DPDK: -ENODEV (no such device), -EAGAIN (not ready yet), -ENOTSUP (VIRTIO_NET_F_MTU not negotiated).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_mtu")]
    public static int GetMtu(int vid, ushort* mtu)
    {
        const string fn = "hp_vhost_get_mtu";
        try
        {
            VhostSession? s = DeviceRegistry.Get(vid);
            if (s == null) return Args.Errno(fn, $"vid {vid} is not a connected device", LibC.ENODEV);
            if (mtu == null) return Args.Errno(fn, "mtu is NULL", LibC.EINVAL);
            if (!s.IsRunning && !s.IsDeviceReady) return Args.Errno(fn, $"vid {vid} is not ready yet", LibC.EAGAIN);
            if (!VirtioFeatures.Has(s.Device.Features, VirtioFeatures.NetMtu))
                return Args.Errno(fn, $"vid {vid} did not negotiate VIRTIO_NET_F_MTU", LibC.ENOTSUP);
            *mtu = s.Mtu;
            return 0;
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return -LibC.EIO;
        }
    }

    /// <summary>The NUMA node of the guest memory (the first region's pages), or -1.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_numa_node")]
    public static int GetNumaNode(int vid)
    {
        const string fn = "hp_vhost_get_numa_node";
        try
        {
            VhostSession? s = Args.Session(fn, vid);
            if (s == null) return -1;
            var mem = s.Device.Memory;
            if (mem == null || mem.Count == 0) return LastError.Set(fn, $"vid {vid} has no guest memory table yet", LibC.EAGAIN);
            int node = Numa.NodeOf(mem.Regions[0].Host, out int errno);
            return node >= 0 ? node : LastError.Set(fn, $"get_mempolicy: {LibC.StrError(errno)}", errno);
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    /// <summary>Number of vrings the frontend has set up (0 on failure).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_vring_num")]
    public static ushort GetVringNum(int vid) => ExportGuard.Run("hp_vhost_get_vring_num", (ushort)0, () =>
    {
        VhostSession? s = Args.Session("hp_vhost_get_vring_num", vid);
        return s == null ? (ushort)0 : (ushort)s.Device.VringCount;
    });

    /// <summary>The socket path, NUL-terminated and cut to <paramref name="len"/> bytes (as DPDK).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_ifname")]
    public static int GetIfName(int vid, byte* buf, nuint len)
    {
        const string fn = "hp_vhost_get_ifname";
        try
        {
            VhostSession? s = Args.Session(fn, vid);
            if (s == null || !Args.NotNull(fn, "buf", buf)) return -1;
            if (len == 0) return LastError.Set(fn, "len is 0");
            Args.CopyOut(s.IfName, buf, len);
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    /// <summary>Split: the free-running indexes. Packed: index | wrap counter &lt;&lt; 15 (as DPDK).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_vring_base")]
    public static int GetVringBase(int vid, ushort queueId, ushort* lastAvailIdx, ushort* lastUsedIdx)
    {
        const string fn = "hp_vhost_get_vring_base";
        try
        {
            Vring? v = Args.Vring(fn, vid, queueId, out _);
            if (v == null || !Args.NotNull(fn, "last_avail_idx", lastAvailIdx) || !Args.NotNull(fn, "last_used_idx", lastUsedIdx))
                return -1;
            using (v.Hold())
            {
                *lastAvailIdx = v.IsPacked ? (ushort)((v.LastAvailIdx & 0x7FFF) | (v.AvailWrapCounter ? 0x8000 : 0)) : v.LastAvailIdx;
                *lastUsedIdx = v.IsPacked ? (ushort)((v.LastUsedIdx & 0x7FFF) | (v.UsedWrapCounter ? 0x8000 : 0)) : v.LastUsedIdx;
            }
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    /// <summary>
    /// Sets both indexes (split: free-running; packed: index | wrap &lt;&lt; 15) through
    /// <see cref="Vring.SetBase(ushort, ushort, bool, in VringLockScope)"/>: the avail side validates and resets the
    /// ring's datapath state; the used side follows.
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_set_vring_base")]
    public static int SetVringBase(int vid, ushort queueId, ushort lastAvailIdx, ushort lastUsedIdx)
    {
        const string fn = "hp_vhost_set_vring_base";
        try
        {
            Vring? v = Args.Vring(fn, vid, queueId, out VhostSession? s);
            if (v == null) return -1;
            bool packed = s!.Device.IsPacked;
            VringError e;
            using (VringLockScope held = v.Hold()) e = v.SetBase(lastAvailIdx, lastUsedIdx, packed, held);
            return e == VringError.None
                ? 0
                : LastError.Set(fn, $"vring {queueId} avail 0x{lastAvailIdx:x} used 0x{lastUsedIdx:x}: {e.Describe()}");
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_extern_callback_register")]
    public static int ExternCallbackRegister(int vid, NativeExternOps* ops, void* ctx)
    {
        const string fn = "hp_vhost_extern_callback_register";
        try
        {
            VhostSession? s = Args.Session(fn, vid);
            if (s == null || !Args.NotNull(fn, "ops", ops)) return -1;
            s.MessageHook = new MessageHookAdapter(*ops, ctx);
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }
}
