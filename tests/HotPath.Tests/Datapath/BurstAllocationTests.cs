using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Datapath;

/// <summary>
/// Zero allocation after ready on every datapath shape: split and packed rings, mergeable or not, indirect TX and
/// RX chains, dirty logging on, stats on, single- and multi-segment packets. Measured on this thread after a warm-up.
/// </summary>
[Collection(SerialCollection.Name)]
public unsafe class BurstAllocationTests
{
    private const int Burst = 32;

    [Theory]
    [InlineData(false, true, false, false)]
    [InlineData(false, false, true, false)]
    [InlineData(false, true, true, true)]
    [InlineData(false, false, false, true)]
    [InlineData(true, true, false, false)]
    [InlineData(true, false, true, false)]
    [InlineData(true, true, true, true)]
    [InlineData(true, false, false, true)]
    public void Dequeue_and_enqueue_bursts_allocate_zero_bytes(bool packed, bool mergeable, bool indirect, bool logging)
    {
        ulong features = VirtioFeatures.Bit(VirtioFeatures.Version1) | VirtioFeatures.Bit(VirtioFeatures.RingIndirectDesc);
        if (mergeable) features |= VirtioFeatures.Bit(VirtioFeatures.NetMrgRxbuf);
        if (logging) features |= VirtioFeatures.Bit(VirtioFeatures.LogAll);
        IDisposable rig;
        DirectAttachParts parts;
        if (packed)
        {
            var lb = new PackedLoopback(features, ringSize: 512, bufferSize: 4096);
            rig = lb;
            parts = new DirectAttachParts(lb.Device, lb.Attach, lb.Memory, lb.Tx[0], lb.Rx[0]);
        }
        else
        {
            var lb = new Loopback(features, ringSize: 512, bufferSize: 4096);
            rig = lb;
            parts = new DirectAttachParts(lb.Device, lb.Attach, lb.Memory, lb.Tx[0], lb.Rx[0]);
        }
        using (rig)
        {
            using FrontendDirtyLog? log = logging ? new FrontendDirtyLog(parts.Memory.Regions.Max(r => r.GuestPhysAddr + r.Size)) : null;
            if (log != null) parts.Attach.SetLogBase(log);
            Assert.Equal(logging, parts.Device.Logging);
            parts.Device.StatsEnabled = true;
            using Mempool pool = TestPools.Create(count: 2048);
            Run(parts, pool, mergeable, indirect);
            Assert.Equal(0u, pool.InUse);
        }
    }

    private readonly record struct DirectAttachParts(VhostDevice Device, DirectAttach Attach, FrontendMemory Memory,
        IRingDriver Tx, IRingDriver Rx);

    private static void Run(DirectAttachParts p, Mempool pool, bool mergeable, bool indirect)
    {
        var header = new byte[p.Tx.HeaderSize];
        byte[] small = Payload.Make(64, 1), big = Payload.Make(3000, 2);   // 1 and 2 mbuf segments
        var got = new byte[4096];
        var shape = new TxShape(Indirect: indirect);
        uint rxLen = mergeable ? 2048u : 3100u;
        nint* mbufs = stackalloc nint[Burst];
        int dequeued = 0, enqueued = 0;

        void Round(int i)
        {
            for (int k = 0; k < Burst; k++) p.Tx.PostTx(header, k == 0 && i % 4 == 0 ? big : small, shape);
            p.Tx.Publish();
            for (int k = 0; k < Burst + 2; k++) p.Rx.PostRx(rxLen, indirect ? 2 : 1, indirect);
            p.Rx.Publish();
            ushort n = p.Device.DequeueBurst(1, pool.Header, (Mbuf**)mbufs, Burst);
            dequeued += n;
            enqueued += p.Device.EnqueueBurst(0, (Mbuf**)mbufs, n);
            MbufOps.FreeBulk((Mbuf**)mbufs, n);
            p.Tx.ReapTx();
            while (p.Rx.TryReceive(got, out _)) { }
        }

        for (int i = 0; i < 200; i++) Round(i);   // warm up: JIT, tiering, this thread's cache slot
        dequeued = enqueued = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5_000; i++) Round(i);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(5_000 * Burst, dequeued);
        Assert.Equal(5_000 * Burst, enqueued);
        Assert.Equal(0L, allocated);
    }
}
