using HotPath.Engine.Buffers;
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
    private static void SettleFinalizers()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    [Fact]
    public void Threads_past_the_slot_maximum_go_straight_to_the_ring()
    {
        SettleFinalizers();
        int free = MempoolCacheSlots.FreeSlots;
        int threads = free + 8;
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
        foreach (var t in workers) Assert.True(t.Join(TimeSpan.FromSeconds(30)));

        Assert.All(ok, Assert.True);
        Assert.Equal(8, slots.Count(s => s < 0));
        int[] held = slots.Where(s => s >= 0).ToArray();
        Assert.Equal(free, held.Length);
        Assert.Equal(held.Length, held.Distinct().Count());       // no two live threads share a cache
        Assert.All(held, s => Assert.InRange(s, 0, MempoolCacheSlots.MaxSlots - 1));
        Assert.Equal(0u, pool.InUse);
    }

    [Fact]
    public void A_dead_threads_slot_is_reused_and_its_cached_objects_go_back_to_the_ring()
    {
        SettleFinalizers();
        int free = MempoolCacheSlots.FreeSlots;
        using var pool = Mempool.Create(PoolFixtures.Name("reclaim"), 1024, 64, 256, MempoolFlags.NoHuge);
        var t = new Thread(() =>
        {
            var m = new nint[10];
            Assert.Equal(0, pool.AllocBulk(m));
            fixed (nint* p = m) MbufOps.FreeBulk((Mbuf**)p, 10);
        });
        t.Start();
        t.Join();
        Assert.Equal(0u, pool.InUse);
        Assert.True(RingOps.Count(pool.Header->Ring) < 1024, "the thread's cache holds some objects");

        SettleFinalizers();
        Assert.Equal(free, MempoolCacheSlots.FreeSlots);
        Assert.Equal(1024u, RingOps.Count(pool.Header->Ring));      // drained from the dead thread's cache
        var all = new nint[1024];
        Assert.Equal(0, pool.AllocBulk(all));                        // so one thread can have them all
        fixed (nint* p = all) MbufOps.FreeBulk((Mbuf**)p, 1024);
    }
}
