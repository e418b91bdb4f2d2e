using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Engine.Memory;
using HotPath.Engine.Vrings;

namespace HotPath.Engine;

/// <summary>
/// Datapath entry points: enqueue/dequeue bursts (dispatching on the ring type) and the ring queries the C API
/// needs. Queue ids are vring indexes as in DPDK: enqueue (host → guest RX) on even ids, dequeue (guest TX → host)
/// on odd ids; a wrong parity or unknown id moves nothing. A burst only try-takes the vring's access lock: when the
/// control plane holds it the burst returns 0. Bursts never throw and allocate no managed memory.
/// </summary>
public sealed unsafe partial class VhostDevice
{
    /// <summary>
    /// LINEARBUF_SUPPORT: dequeue must not build multi-segment mbufs; a packet larger than one mbuf is dropped,
    /// unless <see cref="ExternalBuffers"/> lets it be given an external buffer.
    /// </summary>
    public bool LinearBuffers { get; set; }

    /// <summary>EXTBUF_SUPPORT: dequeue may attach an external buffer to hold a packet larger than one mbuf.</summary>
    public bool ExternalBuffers { get; set; }

    /// <summary>rte_vhost_enqueue_burst: copies up to <paramref name="pkts"/>.Length mbufs into the guest RX queue.
    /// The caller keeps ownership of its mbufs. Returns how many were enqueued.</summary>
    public ushort EnqueueBurst(int queueId, ReadOnlySpan<nint> pkts)
    {
        fixed (nint* p = pkts) return EnqueueBurst(queueId, (Mbuf**)p, ClampCount(pkts.Length));
    }

    /// <summary>rte_vhost_enqueue_burst on raw pointers (the C ABI's entry). Inlined into the export: one frame per call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort EnqueueBurst(int queueId, Mbuf** pkts, ushort count)
    {
        if ((queueId & 1) != 0 || count == 0 || pkts == null) return 0;
        Vring? vq = GetVring(queueId);
        if (vq == null || !vq.AccessLock.TryEnter()) return 0;
        ushort n = 0;
        GuestMemory? mem = _burstMemory;
        if (mem != null)
        {
            if (vq.IsReady && !IdlePoll.NothingToDo(vq, Features))
                n = vq.IsPacked ? PackedBursts.Enqueue(this, vq, mem, pkts, count) : SplitEnqueue.Run(this, vq, mem, pkts, count);
        }
        else if (IotlbViews is { } views) n = EnqueueIotlb(vq, views, pkts, count);   // IOMMU_PLATFORM
        vq.AccessLock.Exit();
        return n;
    }

    /// <summary>rte_vhost_dequeue_burst: up to <paramref name="pkts"/>.Length guest TX packets as mbufs from
    /// <paramref name="pool"/> (the caller owns and frees them). Returns how many were dequeued.</summary>
    public ushort DequeueBurst(int queueId, Mempool pool, Span<nint> pkts)
    {
        fixed (nint* p = pkts) return DequeueBurst(queueId, pool.Header, (Mbuf**)p, ClampCount(pkts.Length));
    }

    /// <summary>rte_vhost_dequeue_burst on raw pointers (the C ABI's entry). Inlined into the export: one frame per call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort DequeueBurst(int queueId, MempoolHeader* pool, Mbuf** pkts, ushort count)
    {
        if ((queueId & 1) == 0 || count == 0 || pkts == null || pool == null) return 0;
        Vring? vq = GetVring(queueId);
        if (vq == null || !vq.AccessLock.TryEnter()) return 0;
        ushort n = 0;
        GuestMemory? mem = _burstMemory;
        if (mem != null)
        {
            // SEND_RARP pending: one predictable branch per burst; the announcement goes out from a NoInlining path.
            if (vq.IsReady)
                n = _rarpPending != 0 ? DequeueWithRarp(vq, mem, pool, pkts, count) : DequeueRing(vq, mem, pool, pkts, count);
        }
        else if (IotlbViews is { } views) n = DequeueIotlb(vq, views, pool, pkts, count);   // IOMMU_PLATFORM
        vq.AccessLock.Exit();
        return n;
    }

    /// <summary>
    /// A dequeue burst that first claims the pending RARP announcement (DPDK's broadcast_rarp in
    /// rte_vhost_dequeue_burst: whichever TX queue bursts first): the frame goes first in <paramref name="pkts"/>, so a
    /// switch learns the MAC before any other packet of the guest, and the guest's packets follow.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ushort DequeueWithRarp(Vring vq, GuestMemory mem, MempoolHeader* pool, Mbuf** pkts, ushort count)
    {
        ushort r = PutRarp(vq, pool, pkts);
        return (ushort)(r + (count == r ? 0 : DequeueRing(vq, mem, pool, pkts + r, (ushort)(count - r))));
    }

    /// <summary>
    /// Claims the pending RARP announcement and puts its frame in <paramref name="pkts"/>[0]: returns 1, or 0 when there
    /// is none. When the pool is empty the announcement stays pending for a later burst; when its mbufs are too small
    /// for 64 bytes it is dropped. The frame is built by the device: no guest memory is read for it.
    /// </summary>
    private ushort PutRarp(Vring vq, MempoolHeader* pool, Mbuf** pkts)
    {
        byte[]? mac = RarpMac;
        bool claimed = mac != null && TakeRarp();
        Mbuf* m = claimed ? MbufOps.Alloc(pool) : null;
        if (m != null && m->TailRoom >= RarpFrame.Length)
        {
            RarpFrame.Write(m, mac!);
            pkts[0] = m;
            return 1;
        }
        if (m != null)
        {
            MbufOps.Free(m);   // this pool's mbufs cannot hold the frame: no announcement (counted as an alloc failure)
            vq.Stats.Add(Stats.VringStats.MbufAllocFailed, 1);
        }
        else if (claimed)
        {
            Volatile.Write(ref _rarpPending, 1);   // claimed but the pool was empty: announce on a later burst
            vq.Stats.Add(Stats.VringStats.MbufAllocFailed, 1);
        }
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ushort DequeueRing(Vring vq, GuestMemory mem, MempoolHeader* pool, Mbuf** pkts, ushort count) =>
        IdlePoll.NothingToDo(vq, Features) ? (ushort)0 : vq.IsPacked ? PackedBursts.Dequeue(this, vq, mem, pool, pkts, count) : SplitDequeue.Run(this, vq, mem, pool, pkts, count);

    /// <summary>
    /// rte_vhost_avail_entries: free entries the guest has posted on an RX (even) queue that the device has not
    /// used yet (split: avail.idx - last used index; packed: the available chains, as the device takes used and
    /// avail in step); 0 when the ring is busy, not ready or unknown.
    /// </summary>
    public ushort AvailEntries(int queueId)
    {
        Vring? vq = GetVring(queueId);
        if (vq == null || !vq.AccessLock.TryEnter()) return 0;
        ushort n = 0;
        if (Memory != null && vq.IsReady)
            n = vq.IsPacked ? (ushort)PackedBursts.AvailableChains(vq) : (ushort)(vq.ReadAvailIdx() - vq.LastUsedIdx);
        vq.AccessLock.Exit();
        return n;
    }

    /// <summary>
    /// rte_vhost_rx_queue_count: packets waiting on a guest TX (odd) queue (split: avail.idx - last avail index;
    /// packed: the available chains; at most the ring size); 0 for an even id, a busy or not-ready ring.
    /// </summary>
    public uint RxQueueCount(int queueId)
    {
        if ((queueId & 1) == 0) return 0;
        Vring? vq = GetVring(queueId);
        if (vq == null || !vq.AccessLock.TryEnter()) return 0;
        uint n = 0;
        if (Memory != null && vq.IsReady)
        {
            if (vq.IsPacked) n = PackedBursts.AvailableChains(vq);
            else
            {
                n = (ushort)(vq.ReadAvailIdx() - vq.LastAvailIdx);
                if (n > vq.Size) n = 0;   // a jump the next burst will mark as broken
            }
        }
        vq.AccessLock.Exit();
        return n;
    }

    /// <summary>
    /// rte_vhost_notify_guest: delivers a notification the guest_notify hook took over earlier (writes the call
    /// eventfd, calls guest_notified) and clears the ring's pending flag. Waits for a burst running on the ring
    /// (microseconds); called from inside that burst's own hook it proceeds without waiting.
    /// </summary>
    public void NotifyGuest(int queueId)
    {
        Vring? vq = GetVring(queueId);
        if (vq == null) return;
        bool insideOwnHook = vq.NotifyingThread == Environment.CurrentManagedThreadId;
        if (!insideOwnHook) vq.AccessLock.Enter();
        try
        {
            if (!vq.IsTranslated) return;
            // Release: a later burst that sees the flag clear may hand the next notification to the hook.
            Volatile.Write(ref vq.IrqPending, 0);
            GuestNotifier.Signal(this, vq, NotifyHook);
        }
        finally
        {
            if (!insideOwnHook) vq.AccessLock.Exit();
        }
    }

    /// <summary>Frees every vring's native datapath memory (device teardown).</summary>
    private void ReleaseDatapath()
    {
        using (DeviceLockScope all = HoldAll())
        {
            for (int i = 0; i < VringCount; i++)
                if (_vrings[i] is { } v) v.ReleaseDatapath(all.For(v));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort ClampCount(int n) => (ushort)Math.Min(n, ushort.MaxValue);
}
