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
        int stop = 0;
        var threads = new Thread[2];
        try
        {
            for (int t = 0; t < 2; t++)
            {
                int me = t;
                RingHeader* outbox = me == 0 ? aToB : bToA;
                RingHeader* inbox = me == 0 ? bToA : aToB;
                threads[t] = new Thread(() =>
                {
                    errors[me] = Hammer(pool.Header, me, allocsPerThread, outbox, inbox, ref allocated[me], ref finished, ref stop);
                    // One thread failing stops the other, so the error is reported rather than waited on.
                    if (errors[me] != null) Volatile.Write(ref stop, 1);
                });
            }
            foreach (var th in threads) th.Start();
            foreach (var th in threads)
                if (!th.Join(TimeSpan.FromSeconds(60)))
                {
                    Volatile.Write(ref stop, 1);
                    foreach (var t2 in threads) t2.Join(TimeSpan.FromSeconds(10));
                    Assert.Fail($"a pool thread hung: {errors[0]} / {errors[1]}");
                }
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
            // The rings live until both threads are gone: a thread still running on a freed ring would crash the host.
            Volatile.Write(ref stop, 1);
            foreach (var th in threads)
                if (th != null && th.ThreadState != ThreadState.Unstarted && !th.Join(TimeSpan.FromSeconds(30)))
                    throw new InvalidOperationException("a pool thread ignored the stop flag; rings leaked on purpose");
            RingOps.Free(aToB);
            RingOps.Free(bToA);
        }
    }

    /// <summary>One thread's loop; returns an error text or null.</summary>
    private static string? Hammer(MempoolHeader* mp, int me, int allocsPerThread, RingHeader* outbox, RingHeader* inbox, ref long allocated, ref int finished, ref int stop)
    {
        ulong myTag = (ulong)(me + 1);
        ulong theirTag = (ulong)(2 - me);
        Mbuf** batch = stackalloc Mbuf*[32];
        long round = 0;
        bool done = false, counted = false;
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
                done = allocated >= allocsPerThread;
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
            // Counted as finished only after the last batch is in the outbox: the other thread stops once it sees both
            // finished and an empty inbox, so counting before the send let it leave with our last batch unread.
            if (done && !counted)
            {
                counted = true;
                Interlocked.Increment(ref finished);
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
            if (Volatile.Read(ref stop) != 0) return $"thread {me}: stopped after {allocated} allocations (done {done}, finished {Volatile.Read(ref finished)}, inbox {RingOps.Count(inbox)}, outbox {RingOps.Count(outbox)}, last burst {n}, pool in use {MbufOps.InUse(mp)})";
            if (n == 0) Thread.Yield();
        }
    }
}
