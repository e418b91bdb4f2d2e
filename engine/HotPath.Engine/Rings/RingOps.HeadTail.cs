namespace HotPath.Engine.Rings;

/// <summary>
/// The head/tail protocol both directions share (DPDK's __rte_ring_headtail_move_head / __rte_ring_update_tail).
/// The moving side <c>d</c> is the producer for an enqueue and the consumer for a dequeue; <c>sTail</c> is the other
/// side's tail, which bounds how far <c>d</c> may go: a producer may run <c>capacity</c> ahead of the consumer tail,
/// a consumer up to the producer tail (capacity 0).
/// </summary>
public static unsafe partial class RingOps
{
    /// <summary>
    /// Single owner of side <paramref name="d"/>: no atomics. The other side's tail is read (a shared line) only when
    /// the cached copy is too old to allow <paramref name="n"/>, or when the caller wants an exact
    /// <paramref name="entries"/> figure (<paramref name="refresh"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint MoveHeadSingle(ref RingIndexes d, ref uint sTail, uint capacity, uint n, bool exact, bool refresh,
        out uint head, out uint entries)
    {
        head = d.Head;                                   // only this thread writes it
        entries = capacity + d.OppositeTailCache - head;
        if (entries < n || refresh)
        {
            // Acquire: pairs with the other side's release store of its tail, so that side is done with the slots
            // up to it: a consumer's reads finished before we (producer) overwrite them, a producer's writes are
            // visible before we (consumer) read them. A cached value came from an earlier acquire: equally safe,
            // only more conservative.
            uint tail = Volatile.Read(ref sTail);
            d.OppositeTailCache = tail;
            entries = capacity + tail - head;
        }
        uint take = n <= entries ? n : exact ? 0 : entries;
        d.Head = head + take;
        return take;
    }

    /// <summary>
    /// Multi-thread side <paramref name="d"/>: claims [head, head + take) by compare-exchange on its head.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint MoveHeadMulti(ref RingIndexes d, ref uint sTail, uint capacity, uint n, bool exact,
        out uint head, out uint entries)
    {
        // Acquire: keeps this head read before the sTail read below. Read the other way round, a stale head could
        // lag far behind a newer sTail and "entries" would exceed what is really there (the CAS would then fail
        // only by luck of the head having moved; in this order entries is exact whenever the CAS succeeds).
        head = Volatile.Read(ref d.Head);
        while (true)
        {
            // Acquire: pairs with the other side's release of its tail (see MoveHeadSingle).
            entries = capacity + Volatile.Read(ref sTail) - head;
            uint take = n <= entries ? n : exact ? 0 : entries;
            if (take == 0) return 0;
            // Full fence. Success: the slots are ours alone. Failure: returns the current head, and the loop's
            // next sTail read stays after it.
            uint seen = Interlocked.CompareExchange(ref d.Head, head + take, head);
            if (seen == head) return take;
            head = seen;
        }
    }

    /// <summary>
    /// Publishes [head, next) to the other side. Multi: waits for the claimants before us first, so the tail never
    /// covers a slot still being written (producer) or read (consumer).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdateTail(ref RingIndexes d, uint head, uint next, bool single)
    {
        if (!single && Volatile.Read(ref d.Tail) != head) SpinForTurn(ref d.Tail, head);
        // Release: our slot writes (producer) or reads (consumer) complete before the other side acquire-reads
        // this tail and reads (or overwrites) those slots.
        Volatile.Write(ref d.Tail, next);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SpinForTurn(ref uint tail, uint head)
    {
        // The claimant ahead of us may have been preempted between its claim and its publish (the lock-holder
        // preemption weakness of every MP/MC ring; DPDK's answer is its RTS/HTS modes). Spin briefly, then yield,
        // and past SpinWait's threshold sleep 1 ms so an oversubscribed core can run that thread. Acquire reads:
        // we only need to see its release store eventually.
        var spin = new SpinWait();
        while (Volatile.Read(ref tail) != head) spin.SpinOnce();
    }
}
