using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// Packed ring state: the shared behaviour (<see cref="RingStateBehaviour{TDriver}"/>), stop and restart from
/// GET_VRING_BASE's index | wrap &lt;&lt; 15 (the used side follows the avail side, as the driver sees it), and the
/// queue counts (chains, not descriptors).
/// </summary>
public unsafe class PackedRingStateTests : RingStateBehaviour<PackedRingDriver>
{
    private static int Dequeue(PackedLoopback lb, Mempool pool, Span<nint> mbufs, ulong? expectSeq = null)
    {
        ushort n = lb.Device.DequeueBurst(1, pool, mbufs);
        for (int i = 0; i < n; i++)
        {
            var m = (Mbuf*)mbufs[i];
            if (expectSeq is { } s) Assert.True(Payload.Matches(new ReadOnlySpan<byte>(m->Data, m->DataLen), s + (ulong)i));
            MbufOps.Free(m);
        }
        return n;
    }

    [Theory]
    [InlineData(3, 0x8003u)]    // stopped in the first lap: wrap counter still 1
    [InlineData(11, 0x0003u)]   // one lap later (ring of 8): wrap counter 0
    [InlineData(16, 0x8000u)]   // two whole laps: back to slot 0 of a lap with wrap counter 1
    public void A_stopped_ring_restarts_from_its_base_with_the_used_side_where_the_driver_expects_it(int before, uint expectBase)
    {
        using var lb = new PackedLoopback(ringSize: 8);
        using Mempool pool = TestPools.Create();
        PackedRingDriver tx = lb.Tx[0];
        var hdr = new byte[tx.HeaderSize];
        var mbufs = new nint[8];
        for (int i = 0; i < before; i++)
        {
            Assert.True(tx.PostTx(hdr, Payload.Make(80, (ulong)i)));
            tx.Publish();
            Assert.Equal(1, Dequeue(lb, pool, mbufs, (ulong)i));
            Assert.Equal(1, tx.ReapTx());
        }

        Assert.Equal(expectBase, lb.Attach.StopRing(1));   // GET_VRING_BASE
        Assert.True(tx.PostTx(hdr, Payload.Make(80, 100)));
        tx.Publish();
        Assert.Equal(0, Dequeue(lb, pool, mbufs));
        tx.Areas.BaseIndex = expectBase;
        lb.Attach.AttachDriver(1, tx, interrupts: false);   // SET_VRING_BASE and the rest again
        Assert.Equal(1, Dequeue(lb, pool, mbufs, 100));
        // The used descriptor went where the driver looks for it, with the wrap counter it expects.
        Assert.Equal(1, tx.ReapTx());
        Assert.Equal((lb.TxVring().LastAvailIdx, lb.TxVring().AvailWrapCounter), (lb.TxVring().LastUsedIdx, lb.TxVring().UsedWrapCounter));
        Assert.Equal((uint)lb.TxVring().LastUsedIdx, tx.LastUsed);
        Assert.Equal(lb.TxVring().UsedWrapCounter, tx.UsedWrap);
        Assert.Equal(0u, pool.InUse);
    }

    [Fact]
    public void A_base_index_beyond_the_ring_is_refused()
    {
        using var lb = new PackedLoopback(ringSize: 8);
        HotPath.Engine.Vrings.Vring v = lb.TxVring();
        using HotPath.Engine.Vrings.VringLockScope held = v.Hold();
        Assert.Equal(HotPath.Engine.Vrings.VringError.BadBaseIndex, v.SetBase(0x8008, packed: true, held));
    }

    [Fact]
    public void Queue_counts_count_available_chains_in_their_direction()
    {
        using var lb = new PackedLoopback(Loopback.With(VirtioFeatures.RingIndirectDesc), ringSize: 32);
        PackedRingDriver tx = lb.Tx[0], rx = lb.Rx[0];
        var hdr = new byte[tx.HeaderSize];
        tx.PostTx(hdr, Payload.Make(64, 1), TxShape.HeaderApart);                 // 2 descriptors
        tx.PostTx(hdr, Payload.Make(64, 2), new TxShape(DataDescriptors: 3, Indirect: true));   // 1 descriptor
        tx.PostTx(hdr, Payload.Make(64, 3));
        Assert.Equal(0u, lb.Device.RxQueueCount(1));   // not published yet
        tx.Publish();
        Assert.Equal(3u, lb.Device.RxQueueCount(1));
        Assert.Equal(0u, lb.Device.RxQueueCount(0));
        Assert.Equal(0u, lb.Device.RxQueueCount(9999));

        for (int i = 0; i < 10; i++) rx.PostRx(2048);
        rx.Publish();
        Assert.Equal(10, lb.Device.AvailEntries(0));
        Mbuf* m = HandMbufs.Make(Payload.Make(64, 1));
        try { Assert.Equal(1, lb.Device.EnqueueBurst(0, &m, 1)); }
        finally { HandMbufs.Free(m); }
        Assert.Equal(9, lb.Device.AvailEntries(0));
        Assert.Equal(0, lb.Device.AvailEntries(-1));
    }

    [Fact]
    public void Bursts_on_a_packed_ring_keep_the_used_side_in_step_with_the_avail_side()
    {
        using var lb = new PackedLoopback(Loopback.With(VirtioFeatures.NetMrgRxbuf), ringSize: 16);
        PackedRingDriver rx = lb.Rx[0];
        var buf = new byte[8192];
        // Mergeable packets that do not fit are rolled back; the used side never runs ahead or behind.
        for (int round = 0; round < 50; round++)
        {
            rx.FillRx(1024);
            rx.Publish();
            Mbuf* m = HandMbufs.Make(Payload.Make(200 + 97 * round % 6000, (ulong)round));
            try { lb.Device.EnqueueBurst(0, &m, 1); }
            finally { HandMbufs.Free(m); }
            var v = lb.RxVring();
            Assert.Equal((v.LastAvailIdx, v.AvailWrapCounter), (v.LastUsedIdx, v.UsedWrapCounter));
            while (rx.TryReceive(buf, out _)) { }
        }
        Assert.Equal(0UL, lb.RxVring().Stats.TotalDrops);
    }
}
