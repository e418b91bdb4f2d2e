namespace HotPath.Engine.Rings;

public static unsafe partial class RingOps
{
    /// <summary>
    /// rte_ring_enqueue_burst: enqueues as many of <paramref name="objs"/>[0..n) as fit and returns how many.
    /// <paramref name="freeSpace"/>, when not null, receives the free slots left after this enqueue.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint EnqueueBurst(RingHeader* r, void** objs, uint n, uint* freeSpace) => Enqueue(r, objs, n, false, freeSpace);

    /// <summary>rte_ring_enqueue_bulk: enqueues all <paramref name="n"/> objects, or none; returns n or 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint EnqueueBulk(RingHeader* r, void** objs, uint n, uint* freeSpace) => Enqueue(r, objs, n, true, freeSpace);

    /// <summary>
    /// rte_ring_dequeue_burst: dequeues up to <paramref name="n"/> objects into <paramref name="objs"/> and returns
    /// how many. <paramref name="available"/>, when not null, receives the objects left after this dequeue.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint DequeueBurst(RingHeader* r, void** objs, uint n, uint* available) => Dequeue(r, objs, n, false, available);

    /// <summary>rte_ring_dequeue_bulk: dequeues exactly <paramref name="n"/> objects, or none; returns n or 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint DequeueBulk(RingHeader* r, void** objs, uint n, uint* available) => Dequeue(r, objs, n, true, available);

    private static uint Enqueue(RingHeader* r, void** objs, uint n, bool exact, uint* freeSpace)
    {
        Debug.Assert(r != null && r->Magic == RingHeader.MagicValue && (n == 0 || objs != null));
        bool single = (r->Flags & RingFlags.SpEnq) != 0;
        uint head, free;
        uint take = single
            ? MoveHeadSingle(ref r->Prod, ref r->Cons.Tail, r->Capacity, n, exact, freeSpace != null, out head, out free)
            : MoveHeadMulti(ref r->Prod, ref r->Cons.Tail, r->Capacity, n, exact, out head, out free);
        if (take != 0)
        {
            CopyIn(r, head, objs, take);
            UpdateTail(ref r->Prod, head, head + take, single);
        }
        if (freeSpace != null) *freeSpace = free - take;
        return take;
    }

    private static uint Dequeue(RingHeader* r, void** objs, uint n, bool exact, uint* available)
    {
        Debug.Assert(r != null && r->Magic == RingHeader.MagicValue && (n == 0 || objs != null));
        bool single = (r->Flags & RingFlags.ScDeq) != 0;
        uint head, entries;
        uint take = single
            ? MoveHeadSingle(ref r->Cons, ref r->Prod.Tail, 0, n, exact, available != null, out head, out entries)
            : MoveHeadMulti(ref r->Cons, ref r->Prod.Tail, 0, n, exact, out head, out entries);
        if (take != 0)
        {
            CopyOut(r, head, objs, take);
            UpdateTail(ref r->Cons, head, head + take, single);
        }
        if (available != null) *available = entries - take;
        return take;
    }
}
