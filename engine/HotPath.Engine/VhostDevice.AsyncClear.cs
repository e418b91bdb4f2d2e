using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine;

/// <summary>
/// Clearing an async queue (DPDK 22.11's rte_vhost_clear_queue and rte_vhost_clear_queue_thread_unsafe;
/// Async/README.md "Clearing a queue"): the application gets every packet it submitted (RX) or the device took (TX)
/// back before it stops using the queue, whether or not their copies had completed.
/// </summary>
public sealed unsafe partial class VhostDevice
{
    /// <summary>
    /// rte_vhost_clear_queue: try-takes the ring's access lock (<see cref="AsyncError.Busy"/> while a burst or the
    /// control plane holds it), waits for the channel's copies, publishes their used entries and returns up to
    /// <paramref name="count"/> packets in <paramref name="cleared"/> (submit order, the caller owns them). RX and TX
    /// queues alike. Call it from any thread, callbacks included: HotPath runs them without a ring lock.
    /// </summary>
    public AsyncError ClearQueue(int queueId, Mbuf** pkts, ushort count, out ushort cleared)
    {
        cleared = 0;
        Vring? vq = GetVring(queueId);
        if (vq == null) return AsyncError.BadQueue;
        if (!vq.AccessLock.TryEnter()) return AsyncError.Busy;
        try
        {
            return Clear(vq, pkts, count, out cleared);
        }
        finally
        {
            vq.AccessLock.Exit();
        }
    }

    /// <summary>
    /// rte_vhost_clear_queue_thread_unsafe: <see cref="ClearQueue(int, Mbuf**, ushort, out ushort)"/> without the lock,
    /// for a caller that has the queue to itself: a vring_state_changed or destroy_device callback after the
    /// application stopped polling that queue. (DPDK runs vring_state_changed holding every access lock and this
    /// call expects it held; HotPath runs callbacks holding none.) A ring whose lock is held now, by a burst on
    /// another thread or the control plane, is refused (<see cref="AsyncError.Busy"/>) rather than raced: a check,
    /// not a guarantee.
    /// </summary>
    public AsyncError ClearQueueThreadUnsafe(int queueId, Mbuf** pkts, ushort count, out ushort cleared)
    {
        cleared = 0;
        Vring? vq = GetVring(queueId);
        if (vq == null) return AsyncError.BadQueue;
        if (vq.AccessLock.IsHeld) return AsyncError.Busy;
        return Clear(vq, pkts, count, out cleared);
    }

    private AsyncError Clear(Vring vq, Mbuf** pkts, ushort count, out ushort cleared)
    {
        cleared = 0;
        // Read by the queue's one user (lock held, or the caller has it to itself): unregister clears it under the lock.
        if (vq.Async is not { } q) return AsyncError.NotRegistered;
        if (pkts == null && count != 0) throw new ArgumentNullException(nameof(pkts));
        uint n = q.Clear(pkts, count);
        if (n != 0)
        {
            vq.Stats.Add(VringStats.InflightCompleted, n);
            if (StatsEnabled) vq.Stats.CountPackets(pkts, (int)n);
        }
        cleared = (ushort)n;
        return AsyncError.None;
    }

    /// <summary>Span form of <see cref="ClearQueue(int, Mbuf**, ushort, out ushort)"/>.</summary>
    public AsyncError ClearQueue(int queueId, Span<nint> pkts, out ushort cleared)
    {
        fixed (nint* p = pkts) return ClearQueue(queueId, (Mbuf**)p, ClampCount(pkts.Length), out cleared);
    }

    /// <summary>Span form of <see cref="ClearQueueThreadUnsafe(int, Mbuf**, ushort, out ushort)"/>.</summary>
    public AsyncError ClearQueueThreadUnsafe(int queueId, Span<nint> pkts, out ushort cleared)
    {
        fixed (nint* p = pkts) return ClearQueueThreadUnsafe(queueId, (Mbuf**)p, ClampCount(pkts.Length), out cleared);
    }
}
