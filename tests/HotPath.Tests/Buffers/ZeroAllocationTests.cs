using HotPath.Engine.Buffers;
using HotPath.Engine.Rings;

namespace HotPath.Tests.Buffers;

/// <summary>The hot paths allocate no managed memory (DESIGN.md: 0 bytes after device-ready).</summary>
public unsafe class ZeroAllocationTests
{
    private const int Rounds = 100_000;

    private static long Measure(Action body)
    {
        body();                                             // warm up: JIT, this thread's cache slot
        long before = GC.GetAllocatedBytesForCurrentThread();
        body();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(64u)]
    public void Pool_alloc_and_free_allocate_nothing(uint cache)
    {
        using var pool = Mempool.Create(PoolFixtures.Name("zalloc"), 1024, cache, 2176, MempoolFlags.NoHuge);
        MempoolHeader* mp = pool.Header;
        long ops = 0;
        long bytes = Measure(() =>
        {
            Mbuf** burst = stackalloc Mbuf*[32];
            Span<nint> span = stackalloc nint[8];
            for (int i = 0; i < Rounds; i++)
            {
                Mbuf* m = MbufOps.Alloc(mp);
                MbufOps.Free(m);
                if (MbufOps.AllocBulk(mp, burst, 32) != 0) throw new InvalidOperationException("bulk failed");
                burst[0]->Next = burst[1];                  // one chain of two
                burst[1] = null;
                MbufOps.FreeBulk(burst, 32);
                if (pool.AllocBulk(span) != 0) throw new InvalidOperationException("span bulk failed");
                for (int k = 0; k < span.Length; k++) MbufOps.Free((Mbuf*)span[k]);
                m = pool.Alloc();
                MbufOps.RefCntUpdate(m, 1);
                MbufOps.Free(m);
                MbufOps.Free(m);
                ops += 4;
            }
        });
        Assert.Equal(0, bytes);
        Assert.Equal(0u, pool.InUse);
        Assert.Equal(8 * Rounds, ops);
    }

    [Theory]
    [InlineData(RingFlags.None)]
    [InlineData(RingFlags.SpEnq | RingFlags.ScDeq)]
    public void Ring_bursts_allocate_nothing(RingFlags flags)
    {
        using var ring = Ring.Create("zring", 256, flags);
        RingHeader* r = ring.Header;
        ulong sum = 0;
        long bytes = Measure(() =>
        {
            void** objs = stackalloc void*[32];
            Span<nint> span = stackalloc nint[16];
            for (int i = 0; i < Rounds; i++)
            {
                for (int k = 0; k < 32; k++) objs[k] = (void*)(nint)(i + k);
                uint free, avail;
                uint n = RingOps.EnqueueBurst(r, objs, 32, &free);
                n = RingOps.DequeueBurst(r, objs, n, &avail);
                sum += n + free + avail;
                n = RingOps.EnqueueBulk(r, objs, 16, null);
                sum += RingOps.DequeueBulk(r, objs, n, null);
                ring.EnqueueBurst(span);
                sum += ring.DequeueBurst(span, out avail);
            }
        });
        Assert.Equal(0, bytes);
        Assert.Equal(2UL * Rounds * (32 + 223 + 0 + 16 + 16), sum);
    }
}
