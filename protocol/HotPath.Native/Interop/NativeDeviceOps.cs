using System.Runtime.InteropServices;

namespace HotPath.Native.Interop;

/// <summary>
/// <c>struct hp_vhost_device_ops</c> (DPDK's rte_vhost_device_ops, same member order): function pointers, any of
/// them NULL. Copied when registered, so the caller's struct need not outlive the call.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeDeviceOps
{
    public delegate* unmanaged<int, int> NewDevice;
    public delegate* unmanaged<int, void> DestroyDevice;
    public delegate* unmanaged<int, ushort, int, int> VringStateChanged;
    public delegate* unmanaged<int, ulong, int> FeaturesChanged;
    public delegate* unmanaged<int, int> NewConnection;
    public delegate* unmanaged<int, void> DestroyConnection;
    public delegate* unmanaged<int, void> GuestNotified;
    /// <summary>C <c>bool</c> (one byte) return.</summary>
    public delegate* unmanaged<int, ushort, byte> GuestNotify;
    /// <summary>HotPath's own (was reserved[0]): every device of the path went to a new process.</summary>
    public delegate* unmanaged<byte*, void> TakeoverComplete;
    /// <summary>Room for later callbacks without changing the struct size (must be NULL today).</summary>
    public fixed ulong Reserved[ReservedSlots];

    public const int ReservedSlots = 3;
}

/// <summary><c>struct hp_vhost_user_extern_ops</c>: per-message hooks, each <c>int (*)(int vid, void *msg)</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeExternOps
{
    public delegate* unmanaged<int, void*, int> PreMessage;
    public delegate* unmanaged<int, void*, int> PostMessage;
}
