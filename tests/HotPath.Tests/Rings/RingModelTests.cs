using HotPath.Engine.Rings;

namespace HotPath.Tests.Rings;

/// <summary>Random sequences of bursts and bulks, each result checked against a plain queue model.</summary>
public unsafe class RingModelTests
{
    [Theory]
    [InlineData(RingFlags.None, 1)]
    [InlineData(RingFlags.SpEnq, 2)]
    [InlineData(RingFlags.ScDeq, 3)]
    [InlineData(RingFlags.SpEnq | RingFlags.ScDeq, 4)]
    public void Operation_sequences_match_a_queue_model(RingFlags flags, int seed)
    {
        var rng = new Random(seed);
        nint* buf = stackalloc nint[2048];
        foreach (uint size in new uint[] { 2, 4, 8, 64, 1024 })
        {
            RingHeader* r = RingOps.Create("model", size, flags, out _);
            var model = new Queue<nint>();
            nint next = 1;
            try
            {
                for (int op = 0; op < 8_000; op++)
                {
                    uint n = (uint)rng.Next(0, (int)Math.Min(size + 2, 2048));
                    bool bulk = rng.Next(4) == 0;
                    bool report = rng.Next(2) == 0;
                    uint left = 12345;
                    uint capacity = size - 1;
                    if (rng.Next(2) == 0)
                    {
                        for (uint i = 0; i < n; i++) buf[i] = next + (nint)i;
                        uint free = capacity - (uint)model.Count;
                        uint want = bulk ? (n <= free ? n : 0) : Math.Min(n, free);
                        uint got = bulk ? RingOps.EnqueueBulk(r, (void**)buf, n, report ? &left : null)
                                        : RingOps.EnqueueBurst(r, (void**)buf, n, report ? &left : null);
                        Assert.Equal(want, got);
                        for (uint i = 0; i < got; i++) model.Enqueue(next++);
                        if (report) Assert.Equal(capacity - (uint)model.Count, left);
                    }
                    else
                    {
                        uint have = (uint)model.Count;
                        uint want = bulk ? (n <= have ? n : 0) : Math.Min(n, have);
                        uint got = bulk ? RingOps.DequeueBulk(r, (void**)buf, n, report ? &left : null)
                                        : RingOps.DequeueBurst(r, (void**)buf, n, report ? &left : null);
                        Assert.Equal(want, got);
                        for (uint i = 0; i < got; i++)
                        {
                            nint expected = model.Dequeue();
                            if (buf[i] != expected) Assert.Fail($"op {op}: slot {i} holds {buf[i]}, the model says {expected}");
                        }
                        if (report) Assert.Equal((uint)model.Count, left);
                    }
                    Assert.Equal((uint)model.Count, RingOps.Count(r));
                    Assert.Equal(capacity - (uint)model.Count, RingOps.FreeCount(r));
                }
            }
            finally
            {
                RingOps.Free(r);
            }
        }
    }
}
