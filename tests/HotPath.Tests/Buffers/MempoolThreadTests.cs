using HotPath.Engine.Buffers;
using HotPath.Engine.Rings;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Buffers;

/// <summary>
/// Two threads hammer one pool, each freeing most of what the other allocated (handed over through SPSC rings), so
/// objects move between the two thread caches and the pool ring all the time. Every mbuf is tagged by its holder:
/// an object handed out while another thread holds it would find a tag already set.
/// Serial: two to four spinning threads need the machine's two cores to themselves.
/// </summary>
[Collection(SerialCollection.Name)]
public unsafe class MempoolThreadTests
{
    [Theory]
    [InlineData(256u, 500_000)]   // 1M objects handed out in all
    [InlineData(0u, 100_000)]     // no caches: every alloc and free contends on the MP/MC ring (slow when the machine is loaded)
    public void Two_threads_allocating_and_freeing_across_never_share_an_object(uint cache, int allocsPerThread)
    {
        using var pool = Mempool.Create(PoolFixtures.Name("xthread"), 2048, cache, 256, MempoolFlags.NoHuge);
        RingHeader* aToB = RingOps.Create("a2b", 512, RingFlags.SpEnq | RingFlags.ScDeq, out _);
        RingHeader* bToA = RingOps.Create("b2a", 512, RingFlags.SpEnq | RingFlags.ScDeq, out _);
        var errors = new string?[2];
        var allocated = new long[2];
        int finished = 0;
        try
        {
            var threads = new Thread[2];
            for (int t = 0; t < 2; t++)
            {
                int me = t;
                RingHeader* outbox = me == 0 ? aToB : bToA;
                RingHeader* inbox = me == 0 ? bToA : aToB;
                threads[t] = new Thread(() => errors[me] = Hammer(pool.Header, me, allocsPerThread, outbox, inbox, ref allocated[me], ref finished));
            }
            foreach (var th in threads) th.Start();
            foreach (var th in threads) Assert.True(th.Join(TimeSpan.FromSeconds(60)), "a pool thread hung");
            Assert.Null(errors[0]);
            Assert.Null(errors[1]);
            Assert.True(allocated[0] >= allocsPerThread && allocated[1] >= allocsPerThread);
            Assert.Equal(0u, pool.InUse);
            Assert.Equal(0UL, pool.BadFrees);
            // Every object is back (in the ring or a thread cache), untagged and marked free.
            for (uint i = 0; i < pool.Count; i++)
            {
                Mbuf* m = MempoolHeader.Object(pool.Header, i);
                Assert.Equal(0UL, m->Dynfield[0]);
                Assert.Equal(0, m->RefCnt);
            }
        }
        finally
        {
            RingOps.Free(aToB);
            RingOps.Free(bToA);
        }
    }

    /// <summary>One thread's loop; returns an error text or null.</summary>
    private static string? Hammer(MempoolHeader* mp, int me, int allocsPerThread, RingHeader* outbox, RingHeader* inbox, ref long allocated, ref int finished)
    {
        ulong myTag = (ulong)(me + 1);
        ulong theirTag = (ulong)(2 - me);
        Mbuf** batch = stackalloc Mbuf*[32];
        long round = 0;
        bool done = false;
        while (true)
        {
            // Allocate: alternately one by one and in bulk; tag every object as ours.
            uint n = 0;
            if (!done)
            {
                n = (uint)(1 + round % 32);
                if ((round & 1) == 0)
                {
                    if (MbufOps.AllocBulk(mp, batch, n) != 0) n = 0;
                }
                else
                {
                    for (uint i = 0; i < n; i++)
                        if ((batch[i] = MbufOps.Alloc(mp)) == null) { n = i; break; }
                }
                for (uint i = 0; i < n; i++)
                {
                    ulong was = Interlocked.CompareExchange(ref batch[i]->Dynfield[0], myTag, 0);
                    if (was != 0) return $"thread {me}: object {(nint)batch[i]:x} handed out while tagged {was}";
                    if (batch[i]->RefCnt != 1) return $"thread {me}: fresh object with refcnt {batch[i]->RefCnt}";
                }
                allocated += n;
                round++;
                if (allocated >= allocsPerThread)
                {
                    done = true;
                    Interlocked.Increment(ref finished);
                }
            }
            // Hand most of them to the other thread; free what does not fit (one in eight stays local anyway).
            uint keep = n / 8;
            uint sent = RingOps.EnqueueBurst(outbox, (void**)(batch + keep), n - keep, null);
            for (uint i = 0; i < n; i++)
            {
                if (i >= keep && i < keep + sent) continue;
                batch[i]->Dynfield[0] = 0;
                MbufOps.Free(batch[i]);
            }
            // Free what the other thread sent us; it must carry the other thread's tag.
            uint got;
            while ((got = RingOps.DequeueBurst(inbox, (void**)batch, 32, null)) != 0)
            {
                for (uint i = 0; i < got; i++)
                {
                    if (batch[i]->Dynfield[0] != theirTag) return $"thread {me}: received object tagged {batch[i]->Dynfield[0]}";
                    batch[i]->Dynfield[0] = 0;
                }
                if ((round & 2) == 0) MbufOps.FreeBulk(batch, got);
                else for (uint i = 0; i < got; i++) MbufOps.Free(batch[i]);
            }
            // Both done and the other side has nothing more in flight to us: stop.
            if (done && Volatile.Read(ref finished) == 2 && RingOps.Count(inbox) == 0 && RingOps.Count(outbox) == 0) return null;
            if (n == 0) Thread.Yield();
        }
    }
}
