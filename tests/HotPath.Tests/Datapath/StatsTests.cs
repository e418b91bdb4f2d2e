using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;

namespace HotPath.Tests.Datapath;

/// <summary>Per-vring counters: names, size buckets, multicast/broadcast, the stats switch, reset.</summary>
public unsafe class StatsTests
{
    [Fact]
    public void Names_are_stable_and_follow_dpdk_for_traffic_counters()
    {
        string[] n = VringStatNames.All;
        Assert.Equal(VringStats.Count, n.Length);
        Assert.Equal("good_packets", n[VringStats.GoodPackets]);
        Assert.Equal("good_bytes", n[VringStats.GoodBytes]);
        Assert.Equal("multicast_packets", n[VringStats.Multicast]);
        Assert.Equal("broadcast_packets", n[VringStats.Broadcast]);
        Assert.Equal("undersize_packets", n[VringStats.SizeBins]);
        Assert.Equal("size_64_packets", n[VringStats.SizeBins + 1]);
        Assert.Equal("size_1519_max_packets", n[VringStats.SizeBins + 7]);
        Assert.Equal("guest_notifications", n[VringStats.GuestNotifications]);
        Assert.Equal("drop_desc_index_out_of_range", VringStatNames.Of(DropReason.DescIndexOutOfRange));
        Assert.Equal("drop_indirect_with_next", VringStatNames.Of(DropReason.IndirectWithNext));
        Assert.Equal("drop_ring_broken", VringStatNames.Of(DropReason.RingBroken));
        Assert.Equal(n.Length, n.Distinct().Count());
        Assert.All(n, s => Assert.True(s.Length > 0 && s.Length < VringStatNames.MaxNameBytes));
        // Every drop reason has its own counter.
        Assert.Equal(Enum.GetValues<DropReason>().Length - 1, n.Count(s => s.StartsWith("drop_")));
    }

    [Theory]
    [InlineData(1u, 0)]
    [InlineData(63u, 0)]
    [InlineData(64u, 1)]
    [InlineData(65u, 2)]
    [InlineData(127u, 2)]
    [InlineData(128u, 3)]
    [InlineData(255u, 3)]
    [InlineData(256u, 4)]
    [InlineData(511u, 4)]
    [InlineData(512u, 5)]
    [InlineData(1023u, 5)]
    [InlineData(1024u, 6)]
    [InlineData(1518u, 6)]
    [InlineData(1519u, 7)]
    [InlineData(9000u, 7)]
    public void Size_buckets_match_dpdk(uint len, int bin) => Assert.Equal(bin, VringStats.SizeBin(len));

    [Fact]
    public void Traffic_counters_count_only_when_enabled_and_drops_always()
    {
        using var h = new Hostile();
        h.PostGoodTx(1, size: 64);
        h.Tx.Publish();
        Assert.Single(h.Dequeue());
        Assert.Equal(0UL, h.TxRing.Stats[VringStats.GoodPackets]);

        h.Lb.Device.StatsEnabled = true;
        byte[] bcast = Payload.Make(100, 2);
        bcast.AsSpan(0, 6).Fill(0xFF);
        byte[] mcast = Payload.Make(1500, 3);
        mcast[0] = 0x01;
        byte[] ucast = Payload.Make(64, 4);
        ucast[0] = 0x02;
        foreach (byte[] p in new[] { bcast, mcast, ucast }) Assert.True(h.Tx.PostTx(new byte[h.Hdr], p));
        ushort bad = h.Tx.RawTakeDescriptor();
        h.Tx.RawWriteDesc(bad, 0x10, 100, 0, 0);
        h.Tx.RawPushAvail(bad);
        h.Tx.Publish();
        Assert.Equal(3, h.Dequeue().Count);
        VringStats s = h.TxRing.Stats;
        Assert.Equal(3UL, s[VringStats.GoodPackets]);
        Assert.Equal(1664UL, s[VringStats.GoodBytes]);
        Assert.Equal(1UL, s[VringStats.Broadcast]);
        Assert.Equal(1UL, s[VringStats.Multicast]);
        Assert.Equal(1UL, s[VringStats.SizeBins + 1]);   // 64
        Assert.Equal(1UL, s[VringStats.SizeBins + 2]);   // 100
        Assert.Equal(1UL, s[VringStats.SizeBins + 6]);   // 1500
        Assert.Equal(1UL, s.Drops(DropReason.BufferOutsideMemory));

        var all = new ulong[VringStats.Count];
        Assert.Equal(VringStats.Count, s.CopyTo(all));
        Assert.Equal(3UL, all[VringStats.GoodPackets]);
        h.TxRing.AccessLock.Enter();
        s.Reset();
        h.TxRing.AccessLock.Exit();
        Assert.Equal(0UL, s[VringStats.GoodPackets]);
        Assert.Equal(0UL, s.TotalDrops);
    }

    [Fact]
    public void Enqueue_counts_the_packets_it_delivered()
    {
        using var h = new Hostile();
        h.Lb.Device.StatsEnabled = true;
        h.Rx.PostRx(2048);
        h.Rx.PostRx(2048);
        h.Rx.Publish();
        Assert.Equal(1, h.Enqueue(1, size: 200));
        Assert.Equal(1, h.Enqueue(2, size: 1000));
        Assert.Equal(2UL, h.RxRing.Stats[VringStats.GoodPackets]);
        Assert.Equal(1200UL, h.RxRing.Stats[VringStats.GoodBytes]);
    }

    [Fact]
    public void An_empty_pool_counts_mbuf_alloc_failed_and_leaves_the_chains()
    {
        using var lb = new Loopback();
        using Mempool pool = TestPools.Create(count: 8, cache: 0);
        var held = new nint[8];
        Assert.Equal(0, pool.AllocBulk(held));
        Assert.True(lb.Tx[0].PostTx(new byte[lb.Tx[0].HeaderSize], Payload.Make(64, 1)));
        lb.Tx[0].Publish();
        var mbufs = new nint[4];
        Assert.Equal(0, lb.Device.DequeueBurst(1, pool, mbufs));
        Assert.Equal(1UL, lb.TxVring().Stats[VringStats.MbufAllocFailed]);
        Assert.Equal(1u, lb.Device.RxQueueCount(1));   // the chain is still there
        fixed (nint* p = held) MbufOps.FreeBulk((Mbuf**)p, 8);
        Assert.Equal(1, lb.Device.DequeueBurst(1, pool, mbufs));
        MbufOps.Free((Mbuf*)mbufs[0]);
        Assert.Equal(0u, pool.InUse);
    }

    [Fact]
    public void Running_out_of_mbufs_for_segments_drops_the_packet_as_no_mbuf_without_leaking()
    {
        using var lb = new Loopback(bufferSize: 8192);
        using Mempool pool = TestPools.Create(count: 8, cache: 0);
        var held = new nint[6];
        Assert.Equal(0, pool.AllocBulk(held));   // two left: a 9000-byte packet needs five
        Assert.True(lb.Tx[0].PostTx(new byte[lb.Tx[0].HeaderSize], Payload.Make(9000, 1), new(DataDescriptors: 2)));
        Assert.True(lb.Tx[0].PostTx(new byte[lb.Tx[0].HeaderSize], Payload.Make(100, 2)));
        lb.Tx[0].Publish();
        var mbufs = new nint[4];
        ushort n = lb.Device.DequeueBurst(1, pool, mbufs);
        Assert.Equal(1, n);
        Assert.True(Payload.Matches(new ReadOnlySpan<byte>(((Mbuf*)mbufs[0])->Data, 100), 2));
        Assert.Equal(1UL, lb.TxVring().Stats.Drops(DropReason.NoMbuf));
        MbufOps.Free((Mbuf*)mbufs[0]);
        fixed (nint* p = held) MbufOps.FreeBulk((Mbuf**)p, 6);
        Assert.Equal(0u, pool.InUse);
    }
}
