using HotPath.Engine.Rings;

namespace HotPath.Tests.Rings;

/// <summary>Single-thread ring semantics: capacity, burst and bulk results, free_space/available, wrap-around.</summary>
public unsafe class RingBurstTests
{
    public static TheoryData<RingFlags> AllModes => new() { RingFlags.None, RingFlags.SpEnq, RingFlags.ScDeq, RingFlags.SpEnq | RingFlags.ScDeq };

    private static nint[] Seq(int from, int n) => Enumerable.Range(from, n).Select(i => (nint)i).ToArray();

    [Theory]
    [MemberData(nameof(AllModes))]
    public void A_ring_of_count_slots_holds_count_minus_one(RingFlags flags)
    {
        using var ring = Ring.Create("cap", 16, flags);
        Assert.Equal(15u, ring.Capacity);
        Assert.Equal(0u, ring.Count);
        Assert.Equal(15u, ring.FreeCount);
        Assert.Equal(15u, ring.EnqueueBurst(Seq(1, 20), out uint free));
        Assert.Equal(0u, free);
        Assert.Equal(15u, ring.Count);
        Assert.Equal(0u, ring.EnqueueBurst(Seq(100, 1), out free));
        Assert.Equal(0u, free);
        Assert.Equal("cap", ring.Name);
    }

    [Theory]
    [MemberData(nameof(AllModes))]
    public void Bursts_move_what_they_can_and_report_what_is_left(RingFlags flags)
    {
        using var ring = Ring.Create("burst", 8, flags);   // capacity 7
        Assert.Equal(5u, ring.EnqueueBurst(Seq(1, 5), out uint free));
        Assert.Equal(2u, free);
        Assert.Equal(2u, ring.EnqueueBurst(Seq(6, 4), out free));   // partial: only 2 of 4 fit
        Assert.Equal(0u, free);

        var out3 = new nint[3];
        Assert.Equal(3u, ring.DequeueBurst(out3, out uint avail));
        Assert.Equal(Seq(1, 3), out3);
        Assert.Equal(4u, avail);

        Assert.Equal(3u, ring.EnqueueBurst(Seq(8, 3), out free));   // wraps around the end of the slots
        Assert.Equal(0u, free);

        var out10 = new nint[10];
        Assert.Equal(7u, ring.DequeueBurst(out10, out avail));      // partial: only 7 there
        Assert.Equal(0u, avail);
        Assert.Equal(Seq(4, 7), out10[..7]);
        Assert.Equal(0u, ring.DequeueBurst(out10, out avail));
        Assert.Equal(0u, avail);
    }

    [Theory]
    [MemberData(nameof(AllModes))]
    public void Bulk_moves_all_or_nothing(RingFlags flags)
    {
        RingHeader* r = RingOps.Create("bulk", 8, flags, out string? error);
        Assert.Null(error);
        try
        {
            nint* objs = stackalloc nint[8];
            for (int i = 0; i < 8; i++) objs[i] = 10 + i;
            uint free;
            Assert.Equal(0u, RingOps.EnqueueBulk(r, (void**)objs, 8, &free));   // 8 > capacity 7
            Assert.Equal(7u, free);
            Assert.Equal(0u, RingOps.Count(r));
            Assert.Equal(6u, RingOps.EnqueueBulk(r, (void**)objs, 6, &free));
            Assert.Equal(1u, free);
            Assert.Equal(0u, RingOps.EnqueueBulk(r, (void**)objs, 2, null));

            nint* got = stackalloc nint[8];
            uint avail;
            Assert.Equal(0u, RingOps.DequeueBulk(r, (void**)got, 7, &avail));
            Assert.Equal(6u, avail);
            Assert.Equal(4u, RingOps.DequeueBulk(r, (void**)got, 4, &avail));
            Assert.Equal(2u, avail);
            Assert.Equal((nint)13, got[3]);
            Assert.Equal(2u, RingOps.Count(r));
            Assert.Equal(5u, RingOps.FreeCount(r));
        }
        finally
        {
            RingOps.Free(r);
        }
    }

    [Theory]
    [MemberData(nameof(AllModes))]
    public void Indexes_wrap_past_u32_max(RingFlags flags)
    {
        RingHeader* r = RingOps.Create("wrap", 64, flags, out _);
        try
        {
            // Start every index just below 2^32: the free-running u32 arithmetic must survive the overflow.
            uint start = uint.MaxValue - 40;
            r->Prod.Head = r->Prod.Tail = r->Prod.OppositeTailCache = start;
            r->Cons.Head = r->Cons.Tail = r->Cons.OppositeTailCache = start;
            nint* buf = stackalloc nint[50];
            nint next = 0, expect = 0;
            for (int round = 0; round < 10; round++)
            {
                for (int i = 0; i < 50; i++) buf[i] = next + i;
                uint n = RingOps.EnqueueBurst(r, (void**)buf, 50, null);
                next += (nint)n;
                Assert.Equal(n, RingOps.Count(r));
                uint m = RingOps.DequeueBurst(r, (void**)buf, 50, null);
                Assert.Equal(n, m);
                for (int i = 0; i < m; i++) Assert.Equal(expect++, buf[i]);
            }
            Assert.True(r->Prod.Tail < start, "the indexes did wrap");
        }
        finally
        {
            RingOps.Free(r);
        }
    }

    [Theory]
    [InlineData(0u, 0u, "not a power of two")]
    [InlineData(1u, 0u, "not a power of two >= 2")]
    [InlineData(100u, 0u, "count 100 is not a power of two")]
    [InlineData(1u << 29, 0u, "exceeds the maximum")]
    [InlineData(64u, 4u, "unknown flag bits 0x4")]
    public void Bad_arguments_are_refused_with_a_readable_reason(uint count, uint flags, string reason)
    {
        Assert.True(RingOps.Create("bad", count, (RingFlags)flags, out string? error) == null);
        Assert.Contains(reason, error);
        Assert.Contains(reason, Assert.Throws<ArgumentException>(() => Ring.Create("bad", count, (RingFlags)flags)).Message);
    }

    [Fact]
    public void Bad_names_are_refused()
    {
        Assert.True(RingOps.Create(null!, 64, RingFlags.None, out string? error) == null);
        Assert.Contains("name is null", error);
        Assert.True(RingOps.Create(new string('x', 32), 64, RingFlags.None, out error) == null);
        Assert.Contains("maximum is 31", error);
        RingHeader* r = RingOps.Create(new string('x', 31), 64, RingFlags.None, out error);
        Assert.Null(error);
        Assert.Equal(new string('x', 31), RingOps.Name(r));
        RingOps.Free(r);
        RingOps.Free(null);
    }
}
