using System.Runtime.InteropServices;
using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Native.Interop;

namespace HotPath.Native.Exports;

/// <summary>
/// The polling datapath: bursts, ring occupancy and guest notification. The vid lookup is one array read
/// (<see cref="HotPath.Protocol.Control.DeviceRegistry.GetDevice"/>); queue-id parity and range are checked by the
/// engine, which moves nothing on a wrong id. Nothing here allocates or locks on the success path. A failure
/// (unknown vid, NULL array) returns 0 and leaves its reason in hp_last_error().
/// </summary>
internal static unsafe class DatapathExports
{
    /// <summary>Copies up to <paramref name="count"/> mbufs into the guest RX queue (even id); the caller keeps them.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_enqueue_burst")]
    public static ushort EnqueueBurst(int vid, ushort queueId, Mbuf** pkts, ushort count)
    {
        const string fn = "hp_vhost_enqueue_burst";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            if (dev == null) return 0;
            if (pkts == null)
            {
                LastError.Null(fn, "pkts");
                return 0;
            }
            return dev.EnqueueBurst(queueId, pkts, count);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    /// <summary>Reads up to <paramref name="count"/> guest TX packets (odd id) into mbufs from <paramref name="pool"/>.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_dequeue_burst")]
    public static ushort DequeueBurst(int vid, ushort queueId, MempoolHeader* pool, Mbuf** pkts, ushort count)
    {
        const string fn = "hp_vhost_dequeue_burst";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            if (dev == null) return 0;
            if (pkts == null || pool == null)
            {
                LastError.Null(fn, pool == null ? "mbuf_pool" : "pkts");
                return 0;
            }
            if (pool->Magic != MempoolHeader.MagicValue)
            {
                LastError.Set(fn, "mbuf_pool is not a pool from hp_mempool_create (or was freed)");
                return 0;
            }
            return dev.DequeueBurst(queueId, pool, pkts, count);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    /// <summary>Free entries the guest posted on an RX (even) queue; 0 on failure.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_avail_entries")]
    public static ushort AvailEntries(int vid, ushort queueId)
    {
        const string fn = "hp_vhost_avail_entries";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            return dev == null ? (ushort)0 : dev.AvailEntries(queueId);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    /// <summary>Packets waiting on a guest TX (odd) queue; 0 on failure.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_rx_queue_count")]
    public static uint RxQueueCount(int vid, ushort queueId)
    {
        const string fn = "hp_vhost_rx_queue_count";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            return dev == null ? 0 : dev.RxQueueCount(queueId);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    /// <summary>Notifies the guest about published used entries (suppression honoured): 0, or -1 and the reason.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_vring_call")]
    public static int VringCall(int vid, ushort vringIdx)
    {
        const string fn = "hp_vhost_vring_call";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            if (dev == null) return -1;
            if (dev.VringCall(vringIdx)) return 0;
            return dev.GetVring(vringIdx) == null
                ? LastError.Set(fn, $"vring {vringIdx} does not exist on vid {vid}")
                : LastError.Set(fn, $"vring {vringIdx} of vid {vid} is not set up", HotPath.Engine.Interop.LibC.EAGAIN);
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    /// <summary>Asks the guest to kick the ring (enable != 0) or to stop (rte_vhost_enable_guest_notification): 0, or -1
    /// and the reason.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_enable_guest_notification")]
    public static int EnableGuestNotification(int vid, ushort queueId, int enable)
    {
        const string fn = "hp_vhost_enable_guest_notification";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            if (dev == null) return -1;
            if (dev.EnableGuestNotification(queueId, enable != 0)) return 0;
            return dev.GetVring(queueId) == null
                ? LastError.Set(fn, $"vring {queueId} does not exist on vid {vid}")
                : LastError.Set(fn, $"vring {queueId} of vid {vid} is not set up", HotPath.Engine.Interop.LibC.EAGAIN);
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    /// <summary>Delivers a notification the guest_notify callback took over (writes the call eventfd).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_notify_guest")]
    public static void NotifyGuest(int vid, ushort queueId)
    {
        const string fn = "hp_vhost_notify_guest";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            if (dev == null) return;
            if (dev.GetVring(queueId) == null)
            {
                LastError.BadQueue(fn, vid, queueId);
                return;
            }
            dev.NotifyGuest(queueId);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
        }
    }
}
