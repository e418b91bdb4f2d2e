using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine;

/// <summary>
/// The async dequeue (DPDK 22.11's rte_vhost_async_try_dequeue_burst, on the seed's channel ops): a channel
/// registered on a TX queue copies guest packets into mbufs while the polling core moves descriptors
/// (Async/README.md). Try-takes the access lock like every burst (held: 0) and allocates nothing.
/// </summary>
public sealed unsafe partial class VhostDevice
{
    /// <summary>
    /// rte_vhost_async_try_dequeue_burst: takes up to <paramref name="count"/> new TX chains (mbufs from
    /// <paramref name="pool"/>) and hands their copies to the queue's channel, then returns up to
    /// <paramref name="count"/> packets whose copies completed, in ring order (the caller owns them). A chain's used
    /// entry reaches the guest only once its copies and every earlier chain's completed. <paramref name="inflight"/>
    /// is the number of packets taken and not returned yet (-1 without a channel or on a busy ring). Packed rings and
    /// IOMMU_PLATFORM devices dequeue synchronously here, after the packets already completed.
    /// </summary>
    public ushort AsyncTryDequeueBurst(int queueId, MempoolHeader* pool, Mbuf** pkts, ushort count, out int inflight)
    {
        inflight = -1;
        if ((queueId & 1) == 0 || pkts == null || pool == null) return 0;
        Vring? vq = GetVring(queueId);
        if (vq == null || !vq.AccessLock.TryEnter()) return 0;
        uint n = 0, done = 0, at = 0;
        // Read under the lock: unregister clears it holding the lock.
        if (vq.Async is { } q)
        {
            GuestMemory? mem = _burstMemory;
            uint usedBefore = q.UsedTail;
            if (mem != null && vq.IsReady && !vq.IsPacked)
            {
                // SEND_RARP pending: the announcement goes first, as in the synchronous dequeue.
                if (_rarpPending != 0 && count != 0) n = PutRarp(vq, pool, pkts);
                if (count > n && !IdlePoll.NothingToDo(vq, Features))
                {
                    uint before = q.Unreturned;
                    AsyncSplitDequeue.Submit(this, vq, q, mem, pool, count - n);
                    if (q.Unreturned != before) vq.Stats.Add(VringStats.InflightSubmitted, q.Unreturned - before);
                }
            }
            at = n;
            // Nothing taken and not returned, no bad chain's entry pending: nothing to reap, publish or hand back.
            if (q.Unreturned != 0 || q.UsedTail != q.UsedHead)
            {
                q.SubmitLeftovers();
                // Only a completion or this call's chains make more publishable (a settle published everything).
                if (q.Reap() | q.UsedTail != usedBefore) q.Publish();
                if (q.PublishHead != q.ReturnHead)
                {
                    done = q.TakeCompleted(pkts + n, count - n);
                    if (done != 0) vq.Stats.Add(VringStats.InflightCompleted, done);
                    n += done;
                }
            }
            if (n < count && (mem == null || vq.IsPacked)) n += DequeueSynchronously(vq, mem, pool, pkts + n, (ushort)(count - n));
            inflight = (int)q.Unreturned;
        }
        vq.AccessLock.Exit();
        if (StatsEnabled && done != 0) vq.Stats.CountPackets(pkts + at, (int)done);
        return (ushort)n;
    }

    /// <summary>Packed rings and IOMMU_PLATFORM devices: the synchronous dequeue (its own RARP and statistics).</summary>
    private ushort DequeueSynchronously(Vring vq, GuestMemory? mem, MempoolHeader* pool, Mbuf** pkts, ushort count)
    {
        if (mem != null)
            return vq.IsReady ? _rarpPending != 0 ? DequeueWithRarp(vq, mem, pool, pkts, count) : DequeueRing(vq, mem, pool, pkts, count) : (ushort)0;
        return IotlbViews is { } views ? DequeueIotlb(vq, views, pool, pkts, count) : (ushort)0;
    }

    /// <summary>Span form of <see cref="AsyncTryDequeueBurst(int, MempoolHeader*, Mbuf**, ushort, out int)"/>.</summary>
    public ushort AsyncTryDequeueBurst(int queueId, Mempool pool, Span<nint> pkts, out int inflight)
    {
        fixed (nint* p = pkts) return AsyncTryDequeueBurst(queueId, pool.Header, (Mbuf**)p, ClampCount(pkts.Length), out inflight);
    }
}
