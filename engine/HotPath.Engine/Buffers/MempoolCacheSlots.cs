using HotPath.Engine.Interop;

namespace HotPath.Engine.Buffers;

/// <summary>
/// Which per-thread cache a thread uses: DPDK's lcore id. A thread takes a slot index on its first pool operation
/// and keeps it for its lifetime; the same index selects its cache in every pool. Past <see cref="MaxSlots"/> live
/// threads, a thread gets no slot and goes straight to the pools' rings (as a non-EAL thread does in DPDK).
/// <para>A slot remembers its owner's kernel thread id. Slots whose owner has exited are reclaimed without waiting
/// for a garbage collection (an application that allocates nothing after start-up may never collect): whenever a
/// thread takes a slot, and when a pool runs dry (<see cref="ReclaimAfterShortage"/>). Reclaiming empties that
/// slot's cache in every live pool into the pool's ring, so a thread's cached mbufs are never stranded, however
/// many polling threads come and go.</para>
/// </summary>
public static class MempoolCacheSlots
{
    public const int MaxSlots = 128;

    /// <summary>Slot + 1; 0 = not asked yet; -1 = no slot (all taken when this thread asked).</summary>
    [ThreadStatic] private static int t_slot;

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

    /// <summary>Slots not held by a live thread (reclaims the slots of exited threads first).</summary>
    public static int FreeSlots
    {
        get
        {
            lock (Table.Lock)
            {
                ReclaimLocked();
                return Table.Free.Count;
            }
        }
    }

    /// <summary>Slots reclaimed from exited threads since the process started.</summary>
    public static long Reclaimed => Interlocked.Read(ref Table.ReclaimedCount);

    /// <summary>Reclaims the slots of exited threads now (their cached objects go back to every pool's ring).
    /// Returns how many were reclaimed.</summary>
    public static int ReclaimExited()
    {
        lock (Table.Lock) return ReclaimLocked();
    }

    /// <summary>
    /// A pool could not satisfy a get: reclaim exited threads' caches so a retry can succeed. Rate-limited (at most
    /// one scan per 100 us, process-wide) because a legitimately empty pool under load calls this on every failed get.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static bool ReclaimAfterShortage()
    {
        long now = Stopwatch.GetTimestamp();
        long last = Volatile.Read(ref Table.LastShortageScan);
        if (now - last < Stopwatch.Frequency / 10_000 ||
            Interlocked.CompareExchange(ref Table.LastShortageScan, now, last) != last) return false;
        return ReclaimExited() > 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Acquire()
    {
        int slot;
        lock (Table.Lock)
        {
            ReclaimLocked();
            slot = Table.Free.Count > 0 ? Table.Free.Pop() : -1;
            if (slot >= 0) Table.OwnerTid[slot] = LibC.gettid();
        }
        t_slot = slot < 0 ? -1 : slot + 1;
        return slot;
    }

    /// <summary>Frees every owned slot whose thread no longer exists. Call with <see cref="Table.Lock"/> held.</summary>
    private static int ReclaimLocked()
    {
        int pid = 0, n = 0;
        for (int s = 0; s < MaxSlots; s++)
        {
            int tid = Table.OwnerTid[s];
            if (tid == 0) continue;
            if (pid == 0) pid = LibC.getpid();
            // tgkill with signal 0 sends nothing: ESRCH means the thread has exited (after its TLS destructors, so it
            // can never touch its cache again). A recycled tid only delays the reclaim; it never frees a live slot.
            if (LibC.tgkill(pid, tid, 0) == 0 || LibC.Errno != LibC.ESRCH) continue;
            // The kernel's exit path orders the dead thread's last cache writes before our observation of ESRCH.
            Mempool.DrainSlotCaches(s);
            Table.OwnerTid[s] = 0;
            Table.Free.Push(s);
            n++;
        }
        if (n > 0) Interlocked.Add(ref Table.ReclaimedCount, n);
        return n;
    }

    /// <summary>The slot table. A class of its own so that the outer class has no static constructor: the hot
    /// thread-static read in <see cref="Current"/> then needs no class-initialisation check.</summary>
    private static class Table
    {
        public static readonly Lock Lock = new();
        public static readonly Stack<int> Free = CreateFree();
        /// <summary>Kernel thread id of each slot's owner; 0 = free.</summary>
        public static readonly int[] OwnerTid = new int[MaxSlots];
        public static long ReclaimedCount;
        public static long LastShortageScan = long.MinValue / 2;

        private static Stack<int> CreateFree()
        {
            var s = new Stack<int>(MaxSlots);
            for (int i = MaxSlots - 1; i >= 0; i--) s.Push(i);   // slot 0 on top: the first threads get low slots
            return s;
        }
    }
}
