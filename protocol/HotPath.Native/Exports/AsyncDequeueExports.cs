using System.Runtime.InteropServices;
using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Engine.Interop;
using HotPath.Native.Interop;

namespace HotPath.Native.Exports;

/// <summary>
/// The async dequeue (DPDK 22.11's rte_vhost_async_try_dequeue_burst on the seed's channel ops; engine/Async/README.md):
/// packets moved, 0 on failure with hp_last_error(); *nr_inflight -1 on failure, as its namesake.
/// </summary>
internal static unsafe class AsyncDequeueExports
{
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_async_try_dequeue_burst")]
    public static ushort TryDequeueBurst(int vid, ushort queueId, MempoolHeader* pool, Mbuf** pkts, ushort count, int* nrInflight)
    {
        const string fn = "hp_vhost_async_try_dequeue_burst";
        try
        {
            if (nrInflight != null) *nrInflight = -1;
            VhostDevice? dev = Args.Device(fn, vid);
            if (dev == null) return 0;
            if (pkts == null || pool == null || nrInflight == null)
            {
                LastError.Null(fn, pool == null ? "mbuf_pool" : pkts == null ? "pkts" : "nr_inflight");
                return 0;
            }
            if (pool->Magic != MempoolHeader.MagicValue)
            {
                LastError.Set(fn, "mbuf_pool is not a pool from hp_mempool_create (or was freed)");
                return 0;
            }
            ushort n = dev.AsyncTryDequeueBurst(queueId, pool, pkts, count, out int inflight);
            *nrInflight = inflight;
            // A constant message: a ring the control plane holds for a moment must not make the burst allocate.
            if (inflight < 0) LastError.Set(fn, "not a TX queue with an async channel, or the ring is busy", LibC.EAGAIN);
            return n;
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }
}
