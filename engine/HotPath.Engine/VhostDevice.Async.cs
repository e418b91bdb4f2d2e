using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine;

/// <summary>
/// The async copy datapath (Async/README.md; the seed's rte_vhost_async_channel_register and friends): a channel on
/// an RX queue, submit bursts that reserve guest buffers and hand the copies to it, and polls that publish completed
/// packets in ring order and give their mbufs back. Submit and poll try-take the access lock like every burst
/// (held: 0) and allocate nothing.
/// </summary>
public sealed unsafe partial class VhostDevice
{
    /// <summary>
    /// rte_vhost_async_channel_register: <paramref name="channel"/> copies for queue <paramref name="queueId"/> (RX:
    /// submit/poll enqueue; TX: <see cref="AsyncTryDequeueBurst(int, MempoolHeader*, Mbuf**, ushort, out int)"/>).
    /// With <paramref name="ownsChannel"/> the channel (if IDisposable) is disposed when the queue goes (unregister,
    /// device teardown).
    /// </summary>
    public AsyncError AsyncChannelRegister(int queueId, uint features, IAsyncCopyChannel channel, bool ownsChannel = false)
    {
        ArgumentNullException.ThrowIfNull(channel);
        if ((uint)queueId >= MaxVrings) return AsyncError.BadQueue;
        if (!AsyncFeatures.TryParse(features, out AsyncFeatures f)) return AsyncError.BadFeatures;
        Vring v = GetOrCreateVring((uint)queueId)!;
        using (v.Hold())
        {
            if (v.Async != null) return AsyncError.AlreadyRegistered;
            v.Async = new AsyncQueue(this, v, queueId, f, channel, ownsChannel);
        }
        return AsyncError.None;
    }

    /// <summary>
    /// rte_vhost_async_channel_unregister: settles the queue (waits for the channel's copies, publishes them), frees
    /// the packets the application did not poll back (<paramref name="freed"/>), and forgets (or disposes) the channel.
    /// </summary>
    public AsyncError AsyncChannelUnregister(int queueId, out uint freed)
    {
        freed = 0;
        Vring? v = GetVring(queueId);
        if (v == null) return AsyncError.BadQueue;
        using (v.Hold())   // settles
        {
            AsyncQueue? q = v.Async;
            if (q == null) return AsyncError.NotRegistered;
            v.Async = null;
            freed = q.Release();
        }
        return AsyncError.None;
    }

    /// <summary>The channel registered on <paramref name="queueId"/>, or null.</summary>
    public IAsyncCopyChannel? AsyncChannel(int queueId) => GetVring(queueId)?.Async?.Channel;

    /// <summary>
    /// rte_vhost_submit_enqueue_burst: reserves guest buffers for up to <paramref name="count"/> packets and starts their
    /// copies. The mbufs belong to the device until <see cref="PollEnqueueCompleted(int, Mbuf**, ushort)"/> returns them. Returns how many
    /// were taken (0 without a channel, on a busy or not-ready ring). IOMMU_PLATFORM devices and packed rings with
    /// inflight tracking copy synchronously here; their packets complete at once. Inlined into the export: one frame
    /// per call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort SubmitEnqueueBurst(int queueId, Mbuf** pkts, ushort count)
    {
        if ((queueId & 1) != 0 || count == 0 || pkts == null) return 0;
        Vring? vq = GetVring(queueId);
        if (vq == null || !vq.AccessLock.TryEnter()) return 0;
        ushort n = 0;
        // Read under the lock: unregister clears it holding the lock.
        if (vq.Async is { } q)
        {
            ushort c = (ushort)Math.Min(count, q.FreeSlots);
            GuestMemory? mem = _burstMemory;
            if (c == 0) { }
            else if (mem != null)
            {
                // No guest buffer: nothing to reserve, and nothing left to publish (a poll publishes completions).
                if (vq.IsReady && !IdlePoll.NothingToDo(vq, Features))
                {
                    if (!vq.IsPacked) n = AsyncSplitEnqueue.Submit(this, vq, q, mem, pkts, c);
                    else if ((vq.ColdFeatures & Vring.ColdInflight) == 0) n = AsyncPackedEnqueue.Submit(this, vq, q, mem, pkts, c);
                    // Packed inflight tracking commits its region batch per burst: those rings copy synchronously.
                    else n = Complete(q, pkts, PackedBursts.Enqueue(this, vq, mem, pkts, c));
                }
            }
            else if (IotlbViews is { } views) n = Complete(q, pkts, EnqueueIotlb(vq, views, pkts, c));
            if (n != 0) vq.Stats.Add(VringStats.InflightSubmitted, n);
        }
        vq.AccessLock.Exit();
        return n;
    }

    private static ushort Complete(AsyncQueue q, Mbuf** pkts, ushort n)
    {
        q.CommitDelivered(pkts, n);
        q.Publish();
        return n;
    }

    /// <summary>
    /// rte_vhost_poll_enqueue_completed: collects the channel's completions, publishes the used entries that are
    /// complete in ring order (notifying the guest as a burst does), and returns up to <paramref name="count"/> of
    /// those packets' mbufs, in submit order, to the caller (who owns them again). Inlined into the export.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort PollEnqueueCompleted(int queueId, Mbuf** pkts, ushort count)
    {
        if ((queueId & 1) != 0 || pkts == null) return 0;
        Vring? vq = GetVring(queueId);
        if (vq == null || !vq.AccessLock.TryEnter()) return 0;
        uint n = 0;
        if (vq.Async is { } q)
        {
            n = q.Poll(pkts, count);
            if (n != 0) vq.Stats.Add(VringStats.InflightCompleted, n);
        }
        vq.AccessLock.Exit();
        if (StatsEnabled && n != 0) vq.Stats.CountPackets(pkts, (int)n);
        return (ushort)n;
    }

    /// <summary>rte_vhost_async_get_inflight: packets submitted and not polled back; -1 on a busy ring or without a channel.</summary>
    public int AsyncInflight(int queueId)
    {
        Vring? vq = GetVring(queueId);
        if (vq == null || !vq.AccessLock.TryEnter()) return -1;
        int n = vq.Async is { } q ? (int)q.Unreturned : -1;
        vq.AccessLock.Exit();
        return n;
    }

    /// <summary>Span form of <see cref="SubmitEnqueueBurst(int, Mbuf**, ushort)"/>.</summary>
    public ushort SubmitEnqueueBurst(int queueId, ReadOnlySpan<nint> pkts)
    {
        fixed (nint* p = pkts) return SubmitEnqueueBurst(queueId, (Mbuf**)p, ClampCount(pkts.Length));
    }

    /// <summary>Span form of <see cref="PollEnqueueCompleted(int, Mbuf**, ushort)"/>.</summary>
    public ushort PollEnqueueCompleted(int queueId, Span<nint> pkts)
    {
        fixed (nint* p = pkts) return PollEnqueueCompleted(queueId, (Mbuf**)p, ClampCount(pkts.Length));
    }
}
