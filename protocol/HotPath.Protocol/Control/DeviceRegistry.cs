using HotPath.Engine;

namespace HotPath.Protocol.Control;

/// <summary>
/// vid → connection. A vid is the lowest free slot (as DPDK reuses vhost_devices[] slots). Lookups are lock-free
/// reads of one array element, cheap enough for every burst; changes happen on the control-plane thread.
/// </summary>
public static class DeviceRegistry
{
    /// <summary>Most devices at once (DPDK's RTE_MAX_VHOST_DEVICE).</summary>
    public const int MaxDevices = 1024;

    private static readonly VhostSession?[] s_sessions = new VhostSession?[MaxDevices];
    private static readonly bool[] s_reserved = new bool[MaxDevices];
    private static readonly object s_lock = new();

    /// <summary>The connection behind <paramref name="vid"/>, or null.</summary>
    public static VhostSession? Get(int vid) => (uint)vid < MaxDevices ? Volatile.Read(ref s_sessions[vid]) : null;

    /// <summary>The engine device behind <paramref name="vid"/>, or null (datapath entry points).</summary>
    public static VhostDevice? GetDevice(int vid) => Get(vid)?.Device;

    /// <summary>Number of live connections.</summary>
    public static int Count
    {
        get
        {
            lock (s_lock) return s_reserved.Count(r => r);
        }
    }

    internal static int Reserve()
    {
        lock (s_lock)
        {
            for (int i = 0; i < MaxDevices; i++)
            {
                if (s_reserved[i]) continue;
                s_reserved[i] = true;
                return i;
            }
        }
        return -1;
    }

    internal static void Publish(int vid, VhostSession session) => Volatile.Write(ref s_sessions[vid], session);

    internal static void Release(int vid, VhostSession session)
    {
        lock (s_lock)
        {
            if ((uint)vid >= MaxDevices) return;
            if (s_sessions[vid] == session) Volatile.Write(ref s_sessions[vid], null);
            s_reserved[vid] = false;
        }
    }
}
