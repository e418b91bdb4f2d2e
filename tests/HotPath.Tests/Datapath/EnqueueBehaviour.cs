using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// Enqueue (host → guest RX) behaviour every ring type must show, over real memfd memory with hand-built mbufs, and
/// mergeable bad chains written raw through the hostile rig; a concrete class per ring type
/// (<see cref="EnqueueTests"/>, <see cref="PackedEnqueueTests"/>) runs them and adds its own ring-specific cases.
/// </summary>
public abstract unsafe class EnqueueBehaviour<TDriver> where TDriver : class, IRingDriver
{
    /// <summary>A loopback of this ring type.</summary>
    private protected static Loopback<TDriver> Rig(ulong features = Loopback.BaseFeatures, uint ringSize = 256, uint bufferSize = 2048) =>
        Loopbacks.Create<TDriver>(features, ringSize, bufferSize);

    /// <summary>A loopback of this ring type whose RX ring is full of published 2 KiB buffers.</summary>
    private static Loopback<TDriver> RigWithRxBuffers()
    {
        Loopback<TDriver> lb = Rig();
        lb.Rx[0].FillRx(2048);
        lb.Rx[0].Publish();
        return lb;
    }

    [Theory]
    [MemberData(nameof(DatapathModes.All), MemberType = typeof(DatapathModes))]
    public void Enqueued_packets_arrive_byte_exact_with_a_clean_header(bool mrg, bool indirect, bool eventIdx)
    {
        using var lb = Rig(DatapathModes.Features(mrg, indirect, eventIdx), ringSize: 256, bufferSize: 2048);
        TDriver rx = lb.Rx[0];
        int hdr = rx.HeaderSize;
        int[] sizes = Payload.WithRandom(seed: 11, count: 24);
        var rxBuf = new byte[16384];
        ulong seq = 0;
        foreach (int size in sizes)
        {
            // Without MRG_RXBUF one chain must hold header + packet: spread it over descriptors (or an indirect table).
            uint chain = mrg ? 1536u : (uint)(size + hdr);
            int descs = mrg ? 1 : (int)((chain + 2047) / 2048);
            if (mrg) rx.FillRx(chain, indirect ? 2 : 1, indirect);
            else Assert.True(rx.PostRx(chain, descs, indirect));
            rx.Publish();

            byte[] pkt = Payload.Make(size, ++seq);
            Mbuf* m = HandMbufs.Make(pkt, segData: 1000);   // multi-segment from 1001 bytes on
            try
            {
                Assert.Equal(1, lb.Device.EnqueueBurst(0, &m, 1));
            }
            finally { HandMbufs.Free(m); }

            Assert.True(rx.TryReceive(rxBuf, out RxInfo info));
            Assert.Equal(size, info.Length);
            Assert.True(rxBuf.AsSpan(0, size).SequenceEqual(pkt), $"payload of {size} bytes differs");
            Assert.Equal(0, info.Header.Flags);
            Assert.Equal(0, info.Header.GsoType);
            Assert.Equal(0, info.Header.CsumStart);
            if (mrg) Assert.Equal((size + hdr + 1535) / 1536, info.Buffers);
            else if (hdr == VirtioNetHeader.MrgSize) Assert.Equal(1, info.Header.NumBuffers);
            Assert.Equal((uint)(size + hdr), info.UsedLen);
            // Let mergeable leftovers drain so each packet starts on fresh buffers.
            while (rx.TryReceive(rxBuf, out _)) { }
        }
        Assert.True(lb.GuardsIntact());
        Assert.Equal(0UL, lb.RxVring().Stats.TotalDrops);
    }

    [Fact]
    public void A_burst_stops_when_guest_buffers_run_out_and_the_rest_stays_with_the_caller()
    {
        using var lb = Rig(ringSize: 8);
        TDriver rx = lb.Rx[0];
        Assert.Equal(3, Enumerable.Range(0, 3).Count(_ => rx.PostRx(2048)));
        rx.Publish();
        Mbuf** pkts = stackalloc Mbuf*[5];
        for (int i = 0; i < 5; i++) pkts[i] = HandMbufs.Make(Payload.Make(100, (ulong)i));
        try
        {
            Assert.Equal(3, lb.Device.EnqueueBurst(0, pkts, 5));
            Assert.Equal(0, lb.Device.EnqueueBurst(0, pkts + 3, 2));
            var buf = new byte[2048];
            for (ulong i = 0; i < 3; i++)
            {
                Assert.True(rx.TryReceive(buf, out RxInfo info));
                Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), i));
            }
            Assert.False(rx.TryReceive(buf, out _));
        }
        finally
        {
            for (int i = 0; i < 5; i++) HandMbufs.Free(pkts[i]);
        }
        Assert.Equal(0UL, lb.RxVring().Stats.TotalDrops);
    }

    [Fact]
    public void Without_mergeable_a_buffer_too_small_for_the_packet_is_left_in_place()
    {
        using var lb = Rig();
        TDriver rx = lb.Rx[0];
        rx.PostRx(200);
        rx.PostRx(2048);
        rx.Publish();
        Mbuf* big = HandMbufs.Make(Payload.Make(1000, 1));
        Mbuf* small = HandMbufs.Make(Payload.Make(100, 2));
        try
        {
            Assert.Equal(0, lb.Device.EnqueueBurst(0, &big, 1));    // stops: the first buffer cannot hold it
            Assert.Equal(1, lb.Device.EnqueueBurst(0, &small, 1));  // the same buffer then takes a packet that fits
            var buf = new byte[2048];
            Assert.True(rx.TryReceive(buf, out RxInfo info));
            Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), 2));
            Assert.Equal(1, lb.Device.EnqueueBurst(0, &big, 1));
            Assert.True(rx.TryReceive(buf, out info));
            Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), 1));
        }
        finally
        {
            HandMbufs.Free(big);
            HandMbufs.Free(small);
        }
    }

    [Fact]
    public void Wrong_parity_and_unknown_queue_ids_move_nothing()
    {
        using var lb = RigWithRxBuffers();
        Mbuf* m = HandMbufs.Make(Payload.Make(64, 1));
        try
        {
            Assert.Equal(0, lb.Device.EnqueueBurst(1, &m, 1));
            Assert.Equal(0, lb.Device.EnqueueBurst(2, &m, 1));
            Assert.Equal(0, lb.Device.EnqueueBurst(-2, &m, 1));
            Assert.Equal(0, lb.Device.EnqueueBurst(1 << 20, &m, 1));
            Assert.Equal(1, lb.Device.EnqueueBurst(0, &m, 1));
        }
        finally { HandMbufs.Free(m); }
    }

    [Fact]
    public void A_burst_finding_the_access_lock_held_returns_zero()
    {
        using var lb = RigWithRxBuffers();
        Mbuf* m = HandMbufs.Make(Payload.Make(64, 1));
        try
        {
            lb.RxVring().AccessLock.Enter();
            Assert.Equal(0, lb.Device.EnqueueBurst(0, &m, 1));
            lb.RxVring().AccessLock.Exit();
            Assert.Equal(1, lb.Device.EnqueueBurst(0, &m, 1));
        }
        finally { HandMbufs.Free(m); }
    }

    [Fact]
    public void Avail_entries_counts_posted_rx_buffers_not_yet_used()
    {
        using var lb = Rig();
        for (int i = 0; i < 10; i++) lb.Rx[0].PostRx(2048);
        lb.Rx[0].Publish();
        Assert.Equal(10, lb.Device.AvailEntries(0));
        Mbuf* m = HandMbufs.Make(Payload.Make(64, 1));
        try { Assert.Equal(1, lb.Device.EnqueueBurst(0, &m, 1)); }
        finally { HandMbufs.Free(m); }
        Assert.Equal(9, lb.Device.AvailEntries(0));
    }

    [Fact]
    public void Mergeable_packet_waits_for_enough_buffers_without_consuming_any()
    {
        using var lb = Rig(Loopback.With(VirtioFeatures.NetMrgRxbuf), ringSize: 16);
        TDriver rx = lb.Rx[0];
        for (int i = 0; i < 3; i++) rx.PostRx(1024);
        rx.Publish();
        Mbuf* m = HandMbufs.Make(Payload.Make(4000, 5));
        try
        {
            Assert.Equal(0, lb.Device.EnqueueBurst(0, &m, 1));   // needs 4 buffers, 3 posted
            Assert.False(rx.TryReceive(new byte[8192], out _));   // nothing used
            Assert.Equal(3, lb.Device.AvailEntries(0));
            rx.PostRx(1024);
            rx.Publish();
            Assert.Equal(1, lb.Device.EnqueueBurst(0, &m, 1));
        }
        finally { HandMbufs.Free(m); }
        var buf = new byte[8192];
        Assert.True(rx.TryReceive(buf, out RxInfo info));
        Assert.Equal(4, info.Buffers);
        Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), 5));
    }

    [Fact]
    public void Mergeable_bad_chain_between_buffers_is_returned_after_the_packet_and_counted_once()
    {
        using var h = HostileRig<TDriver>.Create(Loopback.With(VirtioFeatures.NetMrgRxbuf));
        Assert.True(h.Rx.PostRx(512));
        ushort bad = h.TakeRaw(h.Rx);
        h.PostRaw(h.Rx, bad, new RawDesc(0x10, 512, VringDesc.FlagWrite));   // outside memory
        h.Rx.Publish();
        // The packet needs two buffers (12 + 800 > 512); one good one, then the bad one: rolled back, nothing counted.
        Assert.Equal(0, h.Enqueue(seq: 1, size: 800));
        Assert.Equal(0UL, h.RxRing.Stats.TotalDrops);
        Assert.Empty(h.UsedSince(h.Rx, 0));
        Assert.True(h.Rx.PostRx(512));
        h.Rx.Publish();
        Assert.Equal(1, h.Enqueue(seq: 1, size: 800));
        Assert.Equal(1UL, h.RxRing.Stats.Drops(DropReason.BufferOutsideMemory));
        // Used entries in ring order: the packet's two buffers, then the dropped chain.
        Assert.Equal(new uint[] { 512, 300, 0 }, h.UsedSince(h.Rx, 0).Select(u => u.Len));
        var buf = new byte[4096];
        Assert.True(h.Rx.TryReceive(buf, out RxInfo info));
        Assert.Equal(2, info.Buffers);
        Assert.Equal(800, info.Length);
        Assert.True(Payload.Matches(buf.AsSpan(0, 800), 1));
        Assert.True(h.Rx.TryReceive(buf, out info));   // then the dropped chain, on its own
        Assert.Equal(0u, info.UsedLen);
        Assert.False(h.Rx.TryReceive(buf, out _));
        Assert.True(h.Lb.GuardsIntact());
        h.ReleaseRaw(h.Rx, bad);
        Assert.Equal(16, h.Rx.FreeDescriptors);   // the driver got every descriptor back
    }

    [Fact]
    public void Mergeable_bad_chain_in_front_of_a_packet_is_dropped_at_once()
    {
        using var h = HostileRig<TDriver>.Create(Loopback.With(VirtioFeatures.NetMrgRxbuf));
        ushort bad = h.TakeRaw(h.Rx);
        h.PostRaw(h.Rx, bad, new RawDesc(h.Buf(h.Rx, bad), 512));   // readable: wrong direction
        h.Rx.Publish();
        Assert.Equal(0, h.Enqueue(seq: 1, size: 800));
        Assert.Equal(1UL, h.RxRing.Stats.Drops(DropReason.WrongDirection));
        Assert.Equal(bad, (ushort)Assert.Single(h.UsedSince(h.Rx, 0)).Id);
    }
}
