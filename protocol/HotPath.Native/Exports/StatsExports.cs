using System.Runtime.InteropServices;
using System.Text.Unicode;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;
using HotPath.Native.Interop;
using HotPath.Protocol.Control;

namespace HotPath.Native.Exports;

/// <summary>
/// <c>hp_vhost_vring_stats_*</c> (rte_vhost_vring_stats_*): per-vring counters of a driver registered with
/// HP_VHOST_USER_NET_STATS_ENABLE. As DPDK: the count of counters is returned when the array is NULL or too small;
/// names read "rx_q0_good_packets" (rx: guest TX queue, odd id) and "tx_q0_..." (guest RX queue, even id).
/// </summary>
internal static unsafe class StatsExports
{
    /// <summary>The vring, when it exists and the device collects statistics; null with the reason otherwise.</summary>
    private static Vring? StatsVring(string function, int vid, ushort queueId)
    {
        Vring? v = Args.Vring(function, vid, queueId, out VhostSession? s);
        if (v == null) return null;
        if (s!.Device.StatsEnabled) return v;
        LastError.Set(function, $"vid {vid} collects no statistics: register its driver with HP_VHOST_USER_NET_STATS_ENABLE");
        return null;
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_vring_stats_get_names")]
    public static int GetNames(int vid, ushort queueId, byte* names, uint size)
    {
        const string fn = "hp_vhost_vring_stats_get_names";
        try
        {
            if (StatsVring(fn, vid, queueId) == null) return -1;
            int count = VringStats.Count;
            if (names == null || size < count) return count;
            string dir = (queueId & 1) != 0 ? "rx" : "tx";
            for (int i = 0; i < count; i++)
            {
                var slot = new Span<byte>(names + i * VringStatNames.MaxNameBytes, VringStatNames.MaxNameBytes);
                slot.Clear();
                Utf8.TryWrite(slot[..^1], $"{dir}_q{queueId / 2}_{VringStatNames.All[i]}", out _);
            }
            return count;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_vring_stats_get")]
    public static int Get(int vid, ushort queueId, NativeStat* stats, uint n)
    {
        const string fn = "hp_vhost_vring_stats_get";
        try
        {
            Vring? v = StatsVring(fn, vid, queueId);
            if (v == null) return -1;
            int count = VringStats.Count;
            if (stats == null || n < count) return count;
            // Each counter is an aligned 64-bit word written by one datapath thread: no lock needed to read it whole.
            for (int i = 0; i < count; i++) stats[i] = new NativeStat { Id = (ulong)i, Value = v.Stats[i] };
            return count;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_vring_stats_reset")]
    public static int Reset(int vid, ushort queueId)
    {
        const string fn = "hp_vhost_vring_stats_reset";
        try
        {
            Vring? v = StatsVring(fn, vid, queueId);
            if (v == null) return -1;
            // The datapath increments counters without atomics: zero them only while no burst runs on the ring.
            using (v.Hold()) v.Stats.Reset();
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }
}
