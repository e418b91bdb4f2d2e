using HotPath.Engine.Buffers;

namespace HotPath.Engine.Async;

/// <summary>Clearing a queue (DPDK 22.11's rte_vhost_clear_queue; README.md "Clearing a queue").</summary>
internal sealed unsafe partial class AsyncQueue
{
    /// <summary>
    /// Settles the queue (waits for the channel's copies and publishes every packet's used entries in ring order),
    /// then hands up to <paramref name="count"/> packets back in submit order. A count of at least
    /// <see cref="Unreturned"/> empties the queue in one call. Called by the queue's one user: the holder of the
    /// access lock, or a caller that has the queue to itself.
    /// </summary>
    public uint Clear(Mbuf** pkts, uint count)
    {
        Settle();
        return TakeCompleted(pkts, count);
    }
}
