using HotPath.Engine.Buffers;
using HotPath.Engine.Interop;
using HotPath.Engine.Rings;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Buffers;

/// <summary>
/// Per-thread cache slots (DPDK's lcore ids). Serial: these tests count the process-wide free slots, which other
/// tests' threads would change underneath.
/// </summary>
[Collection(SerialCollection.Name)]
public unsafe class CacheSlotTests
{
    [Fact]
    public void Threads_past_the_slot_maximum_go_straight_to_the_ring()
    {
        // More threads than there are slots at all: however many slots other threads still hold (and whichever of
        // those get reclaimed meanwhile because their owner exited, which once made a "free + 8" version flaky),
        // at least 8 of these find none.
        int free = MempoolCacheSlots.FreeSlots;
        int threads = MempoolCacheSlots.MaxSlots + 8;
        using var pool = Mempool.Create(PoolFixtures.Name("slots"), 8192, 16, 256, MempoolFlags.NoHuge);
        var slots = new int[threads];
        var ok = new bool[threads];
        using var allHold = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(i => new Thread(() =>
        {
            Mbuf* m = MbufOps.Alloc(pool.Header);
            slots[i] = MempoolCacheSlots.Current;
            allHold.SignalAndWait();             // every thread alive at once, each holding its slot
            ok[i] = m != null;
            MbufOps.Free(m);
        }, maxStackSize: 256 << 10)).ToArray();
        foreach (var t in workers) t.Start();
        foreach (var t in workers) Assert.True(t.Join(TimeSpan.FromMinutes(5)));

        Assert.All(ok, Assert.True);                                // slot or not, every thread allocated
        int[] held = slots.Where(s => s >= 0).ToArray();
        Assert.InRange(held.Length, free, MempoolCacheSlots.MaxSlots);  // every slot free at the start was taken
        Assert.True(threads - held.Length >= 8, $"{threads - held.Length} threads without a slot");
        Assert.Equal(held.Length, held.Distinct().Count());       // no two live threads share a cache
        Assert.All(held, s => Assert.InRange(s, 0, MempoolCacheSlots.MaxSlots - 1));
        Assert.Equal(0u, pool.InUse);
    }

    /// <summary>Runs <paramref name="body"/> on a new thread and waits until the kernel thread has exited (Join
    /// returns when the managed part is done, a little before the OS thread is gone).</summary>
    internal static void OnThreadThatExits(Action body)
    {
        int tid = 0;
        var t = new Thread(() =>
        {
            tid = LibC.gettid();
            body();
        }, maxStackSize: 256 << 10);
        t.Start();
        Assert.True(t.Join(TimeSpan.FromSeconds(30)));
        int pid = LibC.getpid();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (LibC.tgkill(pid, tid, 0) == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"thread {tid} did not exit");
            Thread.Yield();
        }
    }

    [Fact]
    public void A_dead_threads_slot_is_reused_and_its_cached_objects_go_back_to_the_ring_without_a_GC()
    {
        using var pool = Mempool.Create(PoolFixtures.Name("reclaim"), 1024, 64, 256, MempoolFlags.NoHuge);
        OnThreadThatExits(() =>
        {
            var m = new nint[10];
            Assert.Equal(0, pool.AllocBulk(m));
            fixed (nint* p = m) MbufOps.FreeBulk((Mbuf**)p, 10);
        });
        Assert.Equal(0u, pool.InUse);
        Assert.True(RingOps.Count(pool.Header->Ring) < 1024, "the thread's cache holds some objects");

        // No GC, no finalizer: the next slot request (or FreeSlots) sees the thread is gone.
        long before = MempoolCacheSlots.Reclaimed;
        Assert.True(MempoolCacheSlots.ReclaimExited() >= 1);
        Assert.True(MempoolCacheSlots.Reclaimed > before);
        Assert.Equal(1024u, RingOps.Count(pool.Header->Ring));      // drained from the dead thread's cache
        var all = new nint[1024];
        Assert.Equal(0, pool.AllocBulk(all));                        // so one thread can have them all
        fixed (nint* p = all) MbufOps.FreeBulk((Mbuf**)p, 1024);
    }

    [Fact]
    public void Thousands_of_polling_threads_created_and_ended_strand_no_object()
    {
        // Issue 11: hp-fwd's pool (cache 256) ran dry after ~35 device threads had come and gone, because each dead
        // thread's cache was only given back by a finalizer that never ran in an allocation-free process.
        const uint Count = 2048, Cache = 256;
        using var pool = Mempool.Create(PoolFixtures.Name("threads"), Count, Cache, 256, MempoolFlags.NoHuge);
        for (int round = 0; round < 2000; round++)
        {
            bool ok = false;
            OnThreadThatExits(() =>
            {
                // A polling thread's life: a few bursts, each allocating and freeing, leaving a full cache behind.
                var burst = new nint[32];
                ok = true;
                for (int b = 0; b < 20 && ok; b++)
                {
                    ok = pool.AllocBulk(burst) == 0;
                    if (ok) fixed (nint* p = burst) MbufOps.FreeBulk((Mbuf**)p, 32);
                }
            });
            Assert.True(ok, $"round {round}: the pool ran dry ({pool.InUse} in use, {RingOps.Count(pool.Header->Ring)} in the ring)");
            Assert.Equal(0u, pool.InUse);
        }
        // A thread that lives on can still take the whole pool: every dead cache was reclaimed.
        var all = new nint[Count];
        Assert.Equal(0, pool.AllocBulk(all));
        fixed (nint* p = all) MbufOps.FreeBulk((Mbuf**)p, Count);
        Assert.Equal(0u, pool.InUse);
    }

    [Fact]
    public void A_live_thread_that_finds_the_pool_empty_reclaims_the_caches_of_exited_threads()
    {
        using var pool = Mempool.Create(PoolFixtures.Name("shortage"), 512, 128, 256, MempoolFlags.NoHuge);
        var mine = new nint[1];
        Assert.Equal(0, pool.AllocBulk(mine));       // this thread holds a slot from here on
        fixed (nint* p = mine) MbufOps.FreeBulk((Mbuf**)p, 1);
        OnThreadThatExits(() =>
        {
            var m = new nint[128];
            Assert.Equal(0, pool.AllocBulk(m));
            fixed (nint* p = m) MbufOps.FreeBulk((Mbuf**)p, 128);   // stays in that thread's cache
        });
        // No new thread takes a slot, so only the shortage path can find the dead cache. The scan is rate-limited
        // (one per 100 us, process-wide): a get that lands inside another scan's window fails, the next one succeeds.
        var all = new nint[512];
        Assert.True(SpinWait.SpinUntil(() => pool.AllocBulk(all) == 0, TimeSpan.FromSeconds(5)),
            "the dead thread's cache was never reclaimed by the shortage path");
        fixed (nint* p = all) MbufOps.FreeBulk((Mbuf**)p, 512);
    }
}
