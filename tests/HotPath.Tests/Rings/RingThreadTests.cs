using HotPath.Engine.Rings;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Rings;

/// <summary>
/// Rings under real threads: order, exactly-once delivery, no lost or invented values.
/// Serial: two to four spinning threads need the machine's two cores to themselves.
/// </summary>
[Collection(SerialCollection.Name)]
public unsafe class RingThreadTests
{
    [Fact]
    public void Spsc_passes_ten_million_sequence_numbers_in_order()
    {
        const long Total = 2_000_000;   // ~2,000 laps of the 1024-slot ring
        RingHeader* r = RingOps.Create("spsc", 1024, RingFlags.SpEnq | RingFlags.ScDeq, out _);
        try
        {
            long received = 0;
            Workers.Run(stop =>
            {
                nint* buf = stackalloc nint[64];
                long next = 0;
                var spin = new SpinWait();
                while (next < Total && !stop.IsCancellationRequested)
                {
                    // Bursts of 1..64 so wrap-around lands on every slot offset.
                    uint want = (uint)Math.Min(1 + (next & 63), Total - next);
                    for (uint i = 0; i < want; i++) buf[i] = (nint)(next + i);
                    uint n = RingOps.EnqueueBurst(r, (void**)buf, want, null);
                    next += n;
                    if (n == 0) spin.SpinOnce(sleep1Threshold: -1);
                }
            }, stop =>
            {
                nint* buf = stackalloc nint[48];
                long expect = 0;
                var spin = new SpinWait();
                while (expect < Total && !stop.IsCancellationRequested)
                {
                    uint n = RingOps.DequeueBurst(r, (void**)buf, 48, null);
                    for (uint i = 0; i < n; i++)
                    {
                        if (buf[i] != (nint)expect) throw new InvalidOperationException($"got {buf[i]}, expected {expect}");
                        expect++;
                    }
                    if (n == 0) spin.SpinOnce(sleep1Threshold: -1);
                }
                received = expect;
            });
            Assert.Equal(Total, received);
            Assert.Equal(0u, RingOps.Count(r));
        }
        finally
        {
            RingOps.Free(r);
        }
    }

    [Theory]
    [InlineData(RingFlags.None)]
    [InlineData(RingFlags.ScDeq)]      // MP enqueue, one consumer
    [InlineData(RingFlags.SpEnq)]      // one producer, MC dequeue
    public void Every_value_is_delivered_exactly_once(RingFlags flags)
    {
        const int PerProducer = 1_000_000;
        int producers = (flags & RingFlags.SpEnq) != 0 ? 1 : 2;
        int consumers = (flags & RingFlags.ScDeq) != 0 ? 1 : 2;
        int total = producers * PerProducer;
        RingHeader* r = RingOps.Create("mpmc", 256, flags, out _);
        var seen = new byte[total];
        long consumed = 0;
        try
        {
            var bodies = new List<Action<CancellationToken>>();
            for (int p = 0; p < producers; p++)
            {
                int id = p;
                bodies.Add(stop =>
                {
                    nint* buf = stackalloc nint[32];
                    int next = 0;
                    var spin = new SpinWait();
                    while (next < PerProducer && !stop.IsCancellationRequested)
                    {
                        uint want = (uint)Math.Min(1 + (next % 32), PerProducer - next);
                        for (uint i = 0; i < want; i++) buf[i] = (nint)((long)id << 32 | (uint)(next + i));
                        uint n = RingOps.EnqueueBurst(r, (void**)buf, want, null);
                        next += (int)n;
                        if (n == 0) spin.SpinOnce(sleep1Threshold: -1);
                    }
                });
            }
            for (int c = 0; c < consumers; c++)
            {
                bodies.Add(stop =>
                {
                    nint* buf = stackalloc nint[32];
                    // FIFO per producer: one consumer sees each producer's values in increasing order.
                    var last = new long[producers];
                    Array.Fill(last, -1);
                    var spin = new SpinWait();
                    while (Volatile.Read(ref consumed) < total && !stop.IsCancellationRequested)
                    {
                        uint n = RingOps.DequeueBurst(r, (void**)buf, 32, null);
                        for (uint i = 0; i < n; i++)
                        {
                            int producer = (int)((long)buf[i] >> 32);
                            int seq = (int)(uint)buf[i];
                            if (seq <= last[producer]) throw new InvalidOperationException($"producer {producer}: {seq} after {last[producer]}");
                            last[producer] = seq;
                            int slot = producer * PerProducer + seq;
                            if (Interlocked.Exchange(ref seen[slot], 1) != 0) throw new InvalidOperationException($"value {slot} delivered twice");
                        }
                        Interlocked.Add(ref consumed, n);
                        if (n == 0) spin.SpinOnce(sleep1Threshold: -1);
                    }
                });
            }
            Workers.Run(bodies.ToArray());
            Assert.Equal(total, Interlocked.Read(ref consumed));
            Assert.DoesNotContain((byte)0, seen);          // nothing lost
            Assert.Equal(0u, RingOps.Count(r));
            Assert.Equal(r->Prod.Head, r->Prod.Tail);
            Assert.Equal(r->Cons.Head, r->Cons.Tail);
        }
        finally
        {
            RingOps.Free(r);
        }
    }
}
