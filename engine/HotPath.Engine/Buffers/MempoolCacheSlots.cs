using System.Runtime.CompilerServices;

namespace HotPath.Engine.Buffers;

/// <summary>
/// Which per-thread cache a thread uses: DPDK's lcore id. A thread takes a slot index on its first pool operation
/// and keeps it for its lifetime; the same index selects its cache in every pool. Past <see cref="MaxSlots"/> live
/// threads, a thread gets no slot and goes straight to the pools' rings (as a non-EAL thread does in DPDK).
/// <para>When a thread dies its slot is handed back (a finalizable lease in a [ThreadStatic] becomes unreachable and
/// its finalizer runs): the objects left in that slot's cache of every live pool go back to the pool's ring first,
/// so they are not stranded until another thread happens to take the slot.</para>
/// </summary>
public static class MempoolCacheSlots
{
    public const int MaxSlots = 128;

    /// <summary>Slot + 1; 0 = not asked yet; -1 = no slot (all taken when this thread asked).</summary>
    [ThreadStatic] private static int t_slot;
    [ThreadStatic] private static SlotLease? t_lease;


    /// <summary>This thread's slot, or -1 when it has none. One thread-static read after the first call.</summary>
    public static int Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            int s = t_slot;
            return s > 0 ? s - 1 : s == 0 ? Acquire() : -1;
        }
    }

    /// <summary>Slots not held by a live thread.</summary>
    public static int FreeSlots
    {
        get
        {
            lock (FreeList.Lock) return FreeList.Slots.Count;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Acquire()
    {
        int slot;
        lock (FreeList.Lock) slot = FreeList.Slots.Count > 0 ? FreeList.Slots.Pop() : -1;
        if (slot < 0)
        {
            t_slot = -1;
            return -1;
        }
        t_lease = new SlotLease(slot);
        t_slot = slot + 1;
        return slot;
    }

    private static void Release(int slot)
    {
        // Nobody owns the slot now (its thread is dead and it is not yet on the free list): its caches can be
        // emptied from this thread. The dead thread's last cache writes reached us through the GC's suspension.
        Mempool.DrainSlotCaches(slot);
        // The lock orders the drain before the next owner's first use of the slot.
        lock (FreeList.Lock) FreeList.Slots.Push(slot);
    }

    /// <summary>The free slots. A class of its own so that the outer class has no static constructor: the hot
    /// thread-static read in <see cref="Current"/> then needs no class-initialisation check.</summary>
    private static class FreeList
    {
        public static readonly Lock Lock = new();
        public static readonly Stack<int> Slots = Create();

        private static Stack<int> Create()
        {
            var s = new Stack<int>(MaxSlots);
            for (int i = MaxSlots - 1; i >= 0; i--) s.Push(i);   // slot 0 on top: the first threads get low slots
            return s;
        }
    }

    private sealed class SlotLease(int slot)
    {
        ~SlotLease() => Release(slot);
    }
}
