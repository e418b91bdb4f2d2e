using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>Split ring state: the shared behaviour (<see cref="RingStateBehaviour{TDriver}"/>), avail index jumps,
/// stop/restart with a base, queue counts.</summary>
public unsafe class RingStateTests : RingStateBehaviour<SplitRingDriver>
{
    [Fact]
    public void Avail_index_jump_beyond_the_ring_size_breaks_the_ring_and_is_counted_once()
    {
        using var h = new Hostile(ringSize: 16);
        h.PostGoodTx(1);
        h.Tx.Publish();
        h.Tx.RawSetAvailIdx(40);   // 40 - 0 > 16
        Assert.Empty(h.Dequeue());
        Assert.True(h.TxRing.IsBroken);
        Assert.Equal(VringError.AvailIndexJump, h.TxRing.BrokenReason);
        Assert.Equal(1UL, h.TxRing.Stats.Drops(DropReason.RingBroken));
        Assert.Empty(h.Dequeue());   // a broken ring is not ready: no second count
        Assert.Equal(1UL, h.TxRing.Stats.Drops(DropReason.RingBroken));
        Assert.Equal(0, h.Tx.UsedIdx);
        // The other direction keeps working.
        h.Rx.PostRx(2048);
        h.Rx.Publish();
        Assert.Equal(1, h.Enqueue(2));
    }

    [Fact]
    public void Enqueue_side_avail_jump_breaks_only_that_ring()
    {
        using var h = new Hostile(ringSize: 16);
        h.Rx.RawSetAvailIdx(17);
        Assert.Equal(0, h.Enqueue(1));
        Assert.True(h.RxRing.IsBroken);
        Assert.False(h.TxRing.IsBroken);
    }

    [Fact]
    public void A_stopped_ring_moves_nothing_and_restarts_from_its_base()
    {
        using var lb = new Loopback(ringSize: 16);
        using Mempool pool = TestPools.Create();
        SplitRingDriver tx = lb.Tx[0];
        var hdr = new byte[tx.HeaderSize];
        for (int i = 0; i < 3; i++) tx.PostTx(hdr, Payload.Make(80, (ulong)i));
        tx.Publish();
        var mbufs = new nint[8];
        Assert.Equal(3, lb.Device.DequeueBurst(1, pool, mbufs));
        fixed (nint* p = mbufs) MbufOps.FreeBulk((Mbuf**)p, 3);
        tx.ReapTx();

        Assert.Equal(3u, lb.Attach.StopRing(1));   // GET_VRING_BASE
        tx.PostTx(hdr, Payload.Make(80, 3));
        tx.Publish();
        Assert.Equal(0, lb.Device.DequeueBurst(1, pool, mbufs));
        lb.Tx[0].Areas.BaseIndex = 3;
        lb.Attach.AttachSplit(1, tx, interrupts: false);   // SET_VRING_BASE 3 and the rest again
        Assert.Equal(1, lb.Device.DequeueBurst(1, pool, mbufs));
        Assert.True(Payload.Matches(new ReadOnlySpan<byte>(((Mbuf*)mbufs[0])->Data, 80), 3));
        MbufOps.Free((Mbuf*)mbufs[0]);
        Assert.Equal(0u, pool.InUse);
    }

    [Fact]
    public void Queue_counts_refuse_the_wrong_direction()
    {
        using var lb = new Loopback();
        lb.Tx[0].PostTx(new byte[lb.Tx[0].HeaderSize], Payload.Make(64, 1));
        lb.Tx[0].Publish();
        Assert.Equal(1u, lb.Device.RxQueueCount(1));
        Assert.Equal(0u, lb.Device.RxQueueCount(0));
        Assert.Equal(0u, lb.Device.RxQueueCount(9999));
        Assert.Equal(0, lb.Device.AvailEntries(-1));
    }
}
