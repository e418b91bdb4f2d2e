using System.Runtime.InteropServices;
using HotPath.Engine;
using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Interop;
using HotPath.Native.Interop;

namespace HotPath.Native.Exports;

/// <summary>
/// Clearing an async queue (DPDK 22.11's rte_vhost_clear_queue / rte_vhost_clear_queue_thread_unsafe, without the
/// dma ids: HotPath's channels are per queue; engine/Async/README.md): packets handed back, 0 on failure with
/// hp_last_error() (unknown vid or queue EINVAL, no channel ENOENT, ring busy EAGAIN), as their namesakes' uint16_t.
/// </summary>
internal static unsafe class AsyncClearExports
{
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_clear_queue")]
    public static ushort ClearQueue(int vid, ushort queueId, Mbuf** pkts, ushort count)
    {
        const string fn = "hp_vhost_clear_queue";
        try
        {
            VhostDevice? dev = Device(fn, vid, pkts);
            if (dev == null) return 0;
            return Result(fn, vid, queueId, dev.ClearQueue(queueId, pkts, count, out ushort n), n);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_clear_queue_thread_unsafe")]
    public static ushort ClearQueueThreadUnsafe(int vid, ushort queueId, Mbuf** pkts, ushort count)
    {
        const string fn = "hp_vhost_clear_queue_thread_unsafe";
        try
        {
            VhostDevice? dev = Device(fn, vid, pkts);
            if (dev == null) return 0;
            return Result(fn, vid, queueId, dev.ClearQueueThreadUnsafe(queueId, pkts, count, out ushort n), n);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    private static VhostDevice? Device(string fn, int vid, Mbuf** pkts)
    {
        VhostDevice? dev = Args.Device(fn, vid);
        if (dev == null) return null;
        if (pkts != null) return dev;
        LastError.Null(fn, "pkts");
        return null;
    }

    private static ushort Result(string fn, int vid, ushort queueId, AsyncError e, ushort n)
    {
        if (e == AsyncError.None) return n;
        LastError.Set(fn, $"vring {queueId} of vid {vid}: {e.Describe()}",
            e == AsyncError.NotRegistered ? LibC.ENOENT : e == AsyncError.Busy ? LibC.EAGAIN : LibC.EINVAL);
        return 0;
    }
}
