using System.Runtime.InteropServices;
using HotPath.Native.Interop;
using HotPath.Protocol.Control;
using HotPath.Protocol.Takeover;

namespace HotPath.Native.Exports;

/// <summary><c>struct hp_vhost_takeover_info</c> (32 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeTakeoverInfo
{
    public uint State;
    public uint Devices;
    public ulong PauseNs;
    public int PeerPid;
    public fixed uint Reserved[3];
}

/// <summary>Hitless upgrade (HP_VHOST_USER_TAKEOVER_ALLOW / HP_VHOST_USER_TAKEOVER): HotPath's own, no DPDK name.</summary>
internal static unsafe class TakeoverExports
{
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_set_takeover_path")]
    public static int SetTakeoverPath(byte* path, byte* takeoverPath)
    {
        const string fn = "hp_vhost_driver_set_takeover_path";
        try
        {
            if (!Args.String(fn, "takeover_path", takeoverPath, out string t)) return -1;
            VhostDriver? d = Args.Driver(fn, path);
            if (d == null) return -1;
            d.SetTakeoverPath(t);
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_driver_takeover_info")]
    public static int TakeoverInfo(byte* path, NativeTakeoverInfo* info) =>
        ExportGuard.Query("hp_vhost_driver_takeover_info", path, "info", info, d => ToNative(d.LastTakeover));

    private static NativeTakeoverInfo ToNative(TakeoverInfo i) => new()
    {
        State = (uint)i.State, Devices = i.Devices, PauseNs = (ulong)Math.Max(0, i.PauseNs), PeerPid = i.PeerPid,
    };
}
