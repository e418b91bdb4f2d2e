using HotPath.Engine.Buffers;
using HotPath.Engine.Interop;

namespace HotPath.Tests.Buffers;

/// <summary>Single-thread alloc/free semantics: reset, exhaustion, bulk all-or-nothing, chains, refcnt.</summary>
public unsafe class MempoolAllocTests
{
    [Fact]
    public void Alloc_resets_every_field_like_rte_pktmbuf_reset()
    {
        using var pool = Mempool.Create(PoolFixtures.Name("reset"), 64, 0, 2176, MempoolFlags.NoHuge);
        Mbuf* m = pool.Alloc();
        Mbuf* other = pool.Alloc();
        m->DataOff = 7; m->NbSegs = 9; m->Port = 3; m->OlFlags = ~0UL; m->PacketType = 5; m->PktLen = 999;
        m->DataLen = 77; m->VlanTci = 12; m->VlanTciOuter = 13; m->Hash = 0xABCD; m->Next = other; m->TxOffload = 42;
        other->Next = null;
        m->NbSegs = 2;
        MbufOps.Free(m);                          // frees both
        Assert.Equal(0u, pool.InUse);

        for (int i = 0; i < 64; i++)
        {
            // No cache: the ring hands objects out FIFO, so every object, the dirtied one included, comes back.
            Mbuf* a = pool.Alloc();
            Assert.True(a->Next == null);
            Assert.Equal(1, a->NbSegs);
            Assert.Equal(0u, a->PktLen);
            Assert.Equal(0, a->DataLen);
            Assert.Equal(128, a->DataOff);
            Assert.Equal(0UL, a->OlFlags);
            Assert.Equal(0u, a->PacketType);
            Assert.Equal(0UL, a->TxOffload);
            Assert.Equal(0, a->VlanTci);
            Assert.Equal(0, a->VlanTciOuter);
            Assert.Equal(0xFFFF, a->Port);
            Assert.Equal(1, a->RefCnt);
            Assert.Equal(0UL, a->Hash);
            Assert.Equal(2176, a->BufLen);
            Assert.True(a->Pool == pool.Header);
        }
        Assert.True(pool.Alloc() == null);
    }

    [Fact]
    public void Reset_clamps_the_headroom_to_a_short_buffer()
    {
        Mbuf m = default;
        m.BufLen = 64;
        MbufOps.Reset(&m);
        Assert.Equal(64, m.DataOff);
        Assert.Equal(0, m.TailRoom);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(32u)]
    public void Alloc_until_empty_gives_each_object_once_then_null(uint cache)
    {
        using var pool = Mempool.Create(PoolFixtures.Name("empty"), 500, cache, 2176, MempoolFlags.NoHuge);
        var seen = new HashSet<nint>();
        for (int i = 0; i < 500; i++)
        {
            Mbuf* m = pool.Alloc();
            Assert.True(m != null, $"alloc {i} of 500 failed");
            Assert.True(MempoolHeader.Owns(pool.Header, m));
            Assert.True(seen.Add((nint)m), "an object was handed out twice");
        }
        Assert.True(pool.Alloc() == null);
        Assert.Equal(500u, pool.InUse);
        Assert.Equal(0u, pool.Available);
        foreach (nint m in seen) MbufOps.Free((Mbuf*)m);
        Assert.Equal(0u, pool.InUse);
        Assert.Equal(500u, pool.Available);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(16u)]
    public void AllocBulk_is_all_or_nothing(uint cache)
    {
        using var pool = Mempool.Create(PoolFixtures.Name("bulk"), 100, cache, 2176, MempoolFlags.NoHuge);
        var first = new nint[90];
        Assert.Equal(0, pool.AllocBulk(first));
        Assert.Equal(90u, pool.InUse);
        Assert.Equal(90, first.Distinct().Count());

        var tooMany = new nint[11];
        Assert.Equal(-LibC.ENOMEM, pool.AllocBulk(tooMany));
        Assert.All(tooMany, p => Assert.Equal(0, p));             // nothing written
        Assert.Equal(90u, pool.InUse);                            // nothing taken

        var rest = new nint[10];
        Assert.Equal(0, pool.AllocBulk(rest));
        Assert.Equal(100u, pool.InUse);
        Assert.Equal(100, first.Concat(rest).Distinct().Count());
        Assert.Equal(-LibC.ENOMEM, pool.AllocBulk(new nint[1]));
        Assert.Equal(0, pool.AllocBulk(Span<nint>.Empty));

        fixed (nint* p = first) MbufOps.FreeBulk((Mbuf**)p, 90);
        fixed (nint* p = rest) MbufOps.FreeBulk((Mbuf**)p, 10);
        Assert.Equal(0u, pool.InUse);
        Assert.All(first, p => Assert.Equal(0, ((Mbuf*)p)->RefCnt));   // free objects carry refcnt 0
    }

    [Fact]
    public void AllocBulk_larger_than_the_cache_uses_cache_and_ring_together()
    {
        using var pool = Mempool.Create(PoolFixtures.Name("mix"), 300, 64, 2176, MempoolFlags.NoHuge);
        Mbuf* one = pool.Alloc();                 // fills this thread's cache from the ring
        MbufOps.Free(one);
        var all = new nint[300];
        Assert.Equal(0, pool.AllocBulk(all));     // needs every object: the cached ones and the ring's
        Assert.Equal(300, all.Distinct().Count());
        Assert.Equal(300u, pool.InUse);
        fixed (nint* p = all) MbufOps.FreeBulk((Mbuf**)p, 300);
        Assert.Equal(0u, pool.InUse);
    }

    [Fact]
    public void Freeing_a_chain_returns_every_segment()
    {
        using var pool = Mempool.Create(PoolFixtures.Name("chain"), 64, 8, 2176, MempoolFlags.NoHuge);
        Mbuf* head = PoolFixtures.Chain(pool, 3);
        Assert.Equal(3, head->NbSegs);
        Assert.Equal(300u, head->PktLen);
        Assert.Equal(3u, pool.InUse);
        MbufOps.Free(head);
        Assert.Equal(0u, pool.InUse);
        MbufOps.Free(null);                       // no-op
        Assert.Equal(0UL, pool.BadFrees);
    }

    [Fact]
    public void Refcnt_keeps_a_segment_until_its_last_holder_frees_it()
    {
        using var pool = Mempool.Create(PoolFixtures.Name("ref"), 64, 8, 2176, MempoolFlags.NoHuge);
        Mbuf* m = pool.Alloc();
        Assert.Equal(2, MbufOps.RefCntUpdate(m, 1));
        Assert.Equal(3, MbufOps.RefCntUpdate(m, 1));
        MbufOps.Free(m);
        Assert.Equal(2, m->RefCnt);
        Assert.Equal(1u, pool.InUse);
        MbufOps.Free(m);
        Assert.Equal(1u, pool.InUse);
        MbufOps.Free(m);
        Assert.Equal(0u, pool.InUse);

        // A chain whose middle segment is shared (e.g. cloned into another packet): freeing the chain keeps it.
        Mbuf* head = PoolFixtures.Chain(pool, 3);
        Mbuf* shared = head->Next;
        MbufOps.RefCntUpdate(shared, 1);
        MbufOps.Free(head);
        Assert.Equal(1u, pool.InUse);
        Assert.Equal(1, shared->RefCnt);
        MbufOps.FreeSegment(shared);
        Assert.Equal(0u, pool.InUse);
    }

    [Fact]
    public void A_double_free_is_counted_and_never_puts_an_object_in_the_pool_twice()
    {
        using var pool = Mempool.Create(PoolFixtures.Name("dfree"), 32, 0, 2176, MempoolFlags.NoHuge);
        Mbuf* m = pool.Alloc();
        MbufOps.Free(m);
        MbufOps.Free(m);
        Mbuf* arr = m;
        MbufOps.FreeBulk(&arr, 1);
        Assert.Equal(2UL, pool.BadFrees);
        Assert.Equal(0u, pool.InUse);
        var all = new nint[32];
        Assert.Equal(0, pool.AllocBulk(all));
        Assert.Equal(32, all.Distinct().Count());
        Assert.True(pool.Alloc() == null);
        fixed (nint* p = all) MbufOps.FreeBulk((Mbuf**)p, 32);
    }

    [Fact]
    public void FreeBulk_frees_chains_of_several_pools_and_skips_nulls()
    {
        using var a = Mempool.Create(PoolFixtures.Name("fa"), 256, 16, 2176, MempoolFlags.NoHuge);
        using var b = Mempool.Create(PoolFixtures.Name("fb"), 256, 0, 1152, MempoolFlags.NoHuge);
        var list = new List<nint>();
        for (int i = 0; i < 150; i++)
        {
            list.Add((nint)PoolFixtures.Chain(i % 2 == 0 ? b : a, 1 + i % 3));
            if (i % 7 == 0) list.Add(0);
        }
        // One chain mixing pools: a head from a with a segment from b.
        Mbuf* mixed = a.Alloc();
        mixed->Next = b.Alloc();
        mixed->NbSegs = 2;
        list.Add((nint)mixed);
        Assert.True(a.InUse > 64 && b.InUse > 64, "more than one batch of each pool");

        nint[] arr = list.ToArray();
        fixed (nint* p = arr) MbufOps.FreeBulk((Mbuf**)p, (uint)arr.Length);
        Assert.Equal(0u, a.InUse);
        Assert.Equal(0u, b.InUse);
        Assert.Equal(0UL, a.BadFrees + b.BadFrees);
    }
}
