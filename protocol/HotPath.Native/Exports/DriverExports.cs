using System.Runtime.InteropServices;
using HotPath.Native.Interop;
using HotPath.Protocol.Control;

namespace HotPath.Native.Exports;

/// <summary>
/// <c>hp_vhost_driver_*</c>: one registered socket path (rte_vhost_driver_*). Every function returns 0 on success
/// and -1 on failure with the reason in hp_last_error(), as the seed says.
/// </summary>
internal static unsafe class DriverExports
{
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_register")]
    public static int Register(byte* path, ulong flags)
    {
        const string fn = "hp_vhost_driver_register";
        try
        {
            if (!Args.String(fn, "path", path, out string p)) return -1;
            VhostDriver.Register(p, (VhostDriverFlags)flags);
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_unregister")]
    public static int Unregister(byte* path) => ExportGuard.OnDriver("hp_vhost_driver_unregister", path, d => d.Unregister());

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_start")]
    public static int Start(byte* path) => ExportGuard.OnDriver("hp_vhost_driver_start", path, d => d.Start());

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_set_features")]
    public static int SetFeatures(byte* path, ulong features) =>
        ExportGuard.OnDriver("hp_vhost_driver_set_features", path, d => d.SetFeatures(features));

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_enable_features")]
    public static int EnableFeatures(byte* path, ulong features) =>
        ExportGuard.OnDriver("hp_vhost_driver_enable_features", path, d => d.EnableFeatures(features));

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_disable_features")]
    public static int DisableFeatures(byte* path, ulong features) =>
        ExportGuard.OnDriver("hp_vhost_driver_disable_features", path, d => d.DisableFeatures(features));

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_set_protocol_features")]
    public static int SetProtocolFeatures(byte* path, ulong features) =>
        ExportGuard.OnDriver("hp_vhost_driver_set_protocol_features", path, d => d.SetProtocolFeatures(features));

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_set_max_queue_num")]
    public static int SetMaxQueueNum(byte* path, uint pairs) =>
        ExportGuard.OnDriver("hp_vhost_driver_set_max_queue_num", path, d => d.SetMaxQueuePairs(pairs));

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_get_features")]
    public static int GetFeatures(byte* path, ulong* features) =>
        ExportGuard.Query("hp_vhost_driver_get_features", path, "features", features, d => d.Features);

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_get_protocol_features")]
    public static int GetProtocolFeatures(byte* path, ulong* features) =>
        ExportGuard.Query("hp_vhost_driver_get_protocol_features", path, "protocol_features", features, d => d.ProtocolFeatures);

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_get_queue_num")]
    public static int GetQueueNum(byte* path, uint* queueNum) =>
        ExportGuard.Query("hp_vhost_driver_get_queue_num", path, "queue_num", queueNum, d => d.MaxQueuePairs);

    /// <summary>
    /// Copies the caller's ops: DPDK keeps the pointer, HotPath keeps a copy, so a stack struct is fine too.
    /// The notification hook is installed only when guest_notify or guest_notified is set, so the datapath of an
    /// application that set neither writes the call eventfd without a detour.
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_callback_register")]
    public static int CallbackRegister(byte* path, NativeDeviceOps* ops)
    {
        const string fn = "hp_vhost_driver_callback_register";
        try
        {
            if (!Args.NotNull(fn, "ops", ops)) return -1;
            for (int i = 0; i < NativeDeviceOps.ReservedSlots; i++)
                if (ops->Reserved[i] != 0)
                    return LastError.Set(fn, $"reserved[{i}] is not NULL (a callback this library does not know)");
            VhostDriver? d = Args.Driver(fn, path);
            if (d == null) return -1;
            var adapter = new DeviceOpsAdapter(*ops);
            d.RegisterCallbacks(adapter, adapter.HooksNotifications ? adapter : null);
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }
}
