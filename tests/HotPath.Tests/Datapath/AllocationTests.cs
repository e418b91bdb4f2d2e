using HotPath.Engine.Buffers;
using HotPath.Frontend.Rings;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Datapath;

/// <summary>The bursts allocate no managed memory (DESIGN.md non-negotiable), measured on this thread.</summary>
[Collection(SerialCollection.Name)]
public unsafe class AllocationTests
{
    [Fact]
    public void Ten_thousand_dequeue_and_enqueue_bursts_allocate_zero_bytes()
    {
        using var lb = new Loopback(Loopback.With(HotPath.Engine.Virtio.VirtioFeatures.NetMrgRxbuf), ringSize: 256, interrupts: true);
        using Mempool pool = TestPools.Create(count: 1024);
        lb.Device.StatsEnabled = true;
        SplitRingDriver tx = lb.Tx[0], rx = lb.Rx[0];
        var header = new byte[tx.HeaderSize];
        var pkt = Payload.Make(64, 1);
        var big = Payload.Make(3000, 2);   // a 2-segment mbuf and 2 RX buffers now and then
        nint* mbufs = stackalloc nint[32];
        var got = new byte[8192];

        void Round(int i, ref int dq, ref int eq)
        {
            for (int k = 0; k < 8; k++) tx.PostTx(header, k == 0 && i % 16 == 0 ? big.AsSpan(0, 2000) : pkt);
            tx.Publish();
            rx.FillRx(2048);
            rx.Publish();
            ushort n = lb.Device.DequeueBurst(1, pool, new Span<nint>(mbufs, 32));
            dq += n;
            eq += lb.Device.EnqueueBurst(0, new ReadOnlySpan<nint>(mbufs, n));
            MbufOps.FreeBulk((Mbuf**)mbufs, n);
            tx.ReapTx();
            while (rx.TryReceive(got, out _)) { }
            tx.DrainCalls();
            rx.DrainCalls();
        }

        int dequeued = 0, enqueued = 0;
        for (int i = 0; i < 100; i++) Round(i, ref dequeued, ref enqueued);   // warm up (JIT, tiering, caches)
        dequeued = enqueued = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) Round(i, ref dequeued, ref enqueued);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(80_000, dequeued);
        Assert.Equal(80_000, enqueued);
        Assert.Equal(0L, allocated);
        Assert.Equal(0u, pool.InUse);
    }
}
