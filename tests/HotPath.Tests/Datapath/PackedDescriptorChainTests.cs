using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Frontend.Rings;
using static HotPath.Tests.Datapath.DescFlags;

namespace HotPath.Tests.Datapath;

/// <summary>
/// SECURITY.md cases 11-15 on packed rings: the shared cases (<see cref="DescriptorChainBehaviour{TDriver}"/>), the ones
/// only the packed layout has (buffer ids, descriptors not yet available, chains of a whole lap, in-order indirect
/// tables, case 22), and case 15 (net header). The split ring's net-header cases are in <see cref="NetHeaderTests"/>.
/// </summary>
public unsafe class PackedDescriptorChainTests : DescriptorChainBehaviour<PackedRingDriver>
{
    // ---------------------------------------------------------------- buffer ids (issue 11)

    /// <summary>A packed buffer id is the driver's: the device only echoes it in the used descriptor and never
    /// indexes anything with it (DPDK's packed inflight and async paths were indexed by it).</summary>
    [Theory]
    [InlineData((ushort)16)]
    [InlineData((ushort)0x7FFF)]
    [InlineData((ushort)0xFFFF)]
    public void Buffer_ids_beyond_the_ring_are_only_echoed_back(ushort hostileId)
    {
        using var h = new PackedHostile(ringSize: 16);
        ushort id = h.Tx.RawTakeBuffer();
        ulong gpa = h.Buf(h.Tx, id);
        byte* p = (byte*)h.Lb.Memory.Host(gpa);
        new Span<byte>(p, h.Hdr).Clear();
        Payload.Make(100, 5).CopyTo(new Span<byte>(p + h.Hdr, 100));
        h.Tx.RawPost(id, new RawDesc(gpa, (uint)(h.Hdr + 100), 0, Id: hostileId));
        h.Tx.Publish();
        Assert.True(Payload.Matches(Assert.Single(h.Dequeue()), 5));
        Assert.Equal(((uint)hostileId, 0u), Assert.Single(h.UsedSince(h.Tx, 0)));
        Assert.Equal(0UL, h.TxRing.Stats.TotalDrops);

        ushort rid = h.Rx.RawTakeBuffer();
        h.Rx.RawPost(rid, new RawDesc(h.Buf(h.Rx, rid), 2048, Write, Id: hostileId));
        h.Rx.Publish();
        Assert.Equal(1, h.Enqueue(seq: 6));
        Assert.Equal(((uint)hostileId, (uint)(h.Hdr + 100)), Assert.Single(h.UsedSince(h.Rx, 0)));
        Assert.Equal(0UL, h.RxRing.Stats.TotalDrops);
        Assert.True(h.Lb.GuardsIntact());
    }

    /// <summary>SECURITY.md 22: SET_VRING_NUM shrinking a packed ring that ran leaves its positions past the new end,
    /// where no descriptor table was translated. The ring takes nothing from there; SET_VRING_BASE repairs it.</summary>
    [Fact]
    public void Case22_a_packed_ring_shrunk_below_its_position_is_not_read_until_a_new_base()
    {
        using var h = new PackedHostile(ringSize: 64);
        for (int i = 0; i < 40; i++)
        {
            h.PostGoodTx((ulong)i);
            h.Tx.Publish();
            Assert.Single(h.Dequeue());
            Assert.Equal(1, h.Tx.ReapTx());
        }
        Vring v = h.TxRing;
        Assert.Equal(40, v.LastAvailIdx);
        h.PostGoodTx(99);          // a valid packet at slot 40: inside the 64-slot table, past a 16-slot one
        h.Tx.Publish();
        using (VringLockScope held = v.Hold())      // SET_VRING_NUM 16, as its handler applies it
        {
            v.SetNum(16, held);
            Assert.Equal(VringError.None, h.Lb.Device.TranslateLocked(v, held));
        }
        Assert.Equal(VringError.PositionOutsideRing, v.BrokenReason);
        Assert.Empty(h.Dequeue());
        Assert.Equal(40, v.LastAvailIdx);

        using (VringLockScope held = v.Hold())      // SET_VRING_BASE 0, wrap counter 1
            Assert.Equal(VringError.None, v.SetBase(0x8000, packed: true, held));
        Assert.Equal(VringError.None, v.BrokenReason);
        Assert.True(v.IsReady);
    }

    // ---------------------------------------------------------------- case 11

    [Fact]
    public void Case11_chain_running_into_descriptors_not_made_available_ends_there_and_is_dropped()
    {
        using var h = new PackedHostile(ringSize: 16);
        ushort id = h.Tx.RawTakeBuffer();
        // Three descriptors, the last still saying NEXT: slot 3 was never made available.
        h.Tx.RawPost(id, new RawDesc(h.Buf(h.Tx, id), 40, Next), new RawDesc(h.Buf(h.Tx, id), 40, Next), new RawDesc(h.Buf(h.Tx, id), 40, Next));
        h.Tx.Publish();
        Assert.Empty(h.Dequeue());
        Assert.Equal(1UL, h.TxRing.Stats.Drops(DropReason.ChainNotAvailable));
        Assert.Equal(1UL, h.TxRing.Stats.TotalDrops);
        var used = Assert.Single(h.UsedSince(h.Tx, 0));
        Assert.Equal((id, 0u), used);
        Assert.Equal(3u, h.TxRing.LastAvailIdx);   // the three descriptors, not more
        Assert.Equal(1, h.Tx.ReapTx());
        h.PostGoodTx(5);
        h.Tx.Publish();
        Assert.True(Payload.Matches(Assert.Single(h.Dequeue()), 5));
        Assert.False(h.TxRing.IsBroken);
    }

    [Fact]
    public void Case11_chain_longer_than_the_ring_is_dropped_after_one_lap()
    {
        using var h = new PackedHostile(ringSize: 8);
        ushort id = h.Tx.RawTakeBuffer();
        // Every slot of the ring in one chain, the last still saying NEXT: more descriptors than the ring holds.
        h.Tx.RawPost(id, Enumerable.Range(0, 8).Select(_ => new RawDesc(h.Buf(h.Tx, id), 16, Next)).ToArray());
        h.Tx.Publish();
        Assert.Empty(h.Dequeue());
        Assert.Equal(1UL, h.TxRing.Stats.Drops(DropReason.ChainTooLong));
        Assert.Equal(1UL, h.TxRing.Stats.TotalDrops);
        Assert.Equal(((ushort)0, false), (h.TxRing.LastAvailIdx, h.TxRing.AvailWrapCounter));   // exactly one lap
        Assert.Equal(1, h.Tx.ReapTx());
        h.PostGoodTx(6);
        h.Tx.Publish();
        Assert.True(Payload.Matches(Assert.Single(h.Dequeue()), 6));
    }

    [Fact]
    public void Case11_rx_chain_running_into_unavailable_descriptors_is_never_written()
    {
        using var h = new PackedHostile(ringSize: 16);
        ushort id = h.Rx.RawTakeBuffer();
        new Span<byte>(h.Rx.Buffers.Host(id), 2048).Fill(0x5C);
        h.Rx.RawPost(id, new RawDesc(h.Buf(h.Rx, id), 2048, (ushort)(Write | Next)));
        h.Rx.Publish();
        Assert.Equal(0, h.Enqueue(1));
        Assert.Equal(1UL, h.RxRing.Stats.Drops(DropReason.ChainNotAvailable));
        Assert.True(new ReadOnlySpan<byte>(h.Rx.Buffers.Host(id), 2048).IndexOfAnyExcept((byte)0x5C) < 0, "the dropped buffer was written");
        var buf = new byte[2048];
        Assert.True(h.Rx.TryReceive(buf, out RxInfo info));
        Assert.Equal(0u, info.UsedLen);
        Assert.True(h.Rx.PostRx(2048));
        h.Rx.Publish();
        Assert.Equal(1, h.Enqueue(2));
        Assert.True(h.Rx.TryReceive(buf, out info));
        Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), 2));
    }

    // ---------------------------------------------------------------- case 12

    [Fact]
    public void Case12_indirect_together_with_next_is_dropped_with_its_whole_chain()
    {
        using var h = new PackedHostile();
        // INDIRECT | NEXT on the head; the chain still ends where the driver ended it (the second descriptor).
        TxBadThenGood(h, DropReason.IndirectWithNext, (h, id) =>
            [IndirectHead(h, id, 16, (ushort)(Indirect | Next)), new RawDesc(h.Buf(h.Tx, id), 64)]);
        Assert.Equal(1, h.Tx.ReapTx());
        Assert.Equal(16, h.Tx.FreeDescriptors);   // the device and the driver agree on where each chain ended
    }

    [Fact]
    public void Case12_indirect_descriptor_inside_a_chain_is_dropped()
    {
        using var h = new PackedHostile();
        TxBadThenGood(h, DropReason.IndirectNested, (h, id) =>
            [new RawDesc(h.Buf(h.Tx, id), 12, Next), IndirectHead(h, id, 16)]);
    }

    [Fact]
    public void Case12_indirect_table_entries_are_the_buffer_in_order_whatever_their_next_bits_say()
    {
        using var h = new PackedHostile();
        ushort id = h.Tx.RawTakeBuffer(), b = h.Tx.RawTakeBuffer();
        byte[] pkt = Payload.Make(90, 12);
        h.Tx.Buffers.Write(h.Buf(h.Tx, id), new byte[h.Hdr]);
        h.Tx.Buffers.Write(h.Buf(h.Tx, b), pkt);
        h.Tx.RawWriteIndirect(id, 0, h.Buf(h.Tx, id), (uint)h.Hdr, Next);   // NEXT carries nothing in a packed table
        ulong table = h.Tx.RawWriteIndirect(id, 1, h.Buf(h.Tx, b), 90, 0);
        h.Tx.RawPost(id, new RawDesc(table, 32, Indirect));
        h.ExpectTxDelivered(12);
    }

    // ---------------------------------------------------------------- case 13

    [Fact]
    public void Case13_bad_buffer_in_the_middle_of_a_chain_drops_the_whole_chain_and_no_more()
    {
        using var h = new PackedHostile();
        TxBadThenGood(h, DropReason.BufferOutsideMemory, (h, id) =>
            [new RawDesc(h.Buf(h.Tx, id), 12, Next), new RawDesc(0x10, 64, Next), new RawDesc(h.Buf(h.Tx, id), 64)]);
        Assert.Equal(1, h.Tx.ReapTx());
        Assert.Equal(16, h.Tx.FreeDescriptors);   // the device and the driver agree on where each chain ended
    }

    // ---------------------------------------------------------------- case 15

    [Fact]
    public void Case15_tx_chain_shorter_than_the_net_header_is_dropped()
    {
        using var h = new PackedHostile();
        TxBadThenGood(h, DropReason.ChainTooShort, (h, id) => [new RawDesc(h.Buf(h.Tx, id), (uint)h.Hdr - 2)]);
    }

    [Fact]
    public void Case15_rx_chain_shorter_than_the_net_header_is_dropped()
    {
        using var h = new PackedHostile(Loopback.With(VirtioFeatures.NetMrgRxbuf));
        RxBadThenGood(h, DropReason.ChainTooShort, (h, id) => [new RawDesc(h.Buf(h.Rx, id), 4, Write)]);
    }

    [Fact]
    public void Case15_header_split_across_descriptors_is_read_whole()
    {
        using var h = new PackedHostile(Loopback.With(VirtioFeatures.NetCsum));
        byte[] frame = Frames.Ipv4(17, 200);
        var hdr = new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsCsum, CsumStart = 34, CsumOffset = 6 };
        byte[] raw = new byte[h.Hdr];
        System.Runtime.InteropServices.MemoryMarshal.Write(raw, in hdr);
        ushort a = h.Tx.RawTakeBuffer(), b = h.Tx.RawTakeBuffer(), c = h.Tx.RawTakeBuffer();
        h.Tx.Buffers.Write(h.Buf(h.Tx, a), raw.AsSpan(0, 3));
        h.Tx.Buffers.Write(h.Buf(h.Tx, b), raw.AsSpan(3));
        h.Tx.Buffers.Write(h.Buf(h.Tx, c), frame);
        h.Tx.RawPost(a, new RawDesc(h.Buf(h.Tx, a), 3, Next), new RawDesc(h.Buf(h.Tx, b), (uint)h.Hdr - 3, Next),
            new RawDesc(h.Buf(h.Tx, c), (uint)frame.Length));
        h.Tx.Publish();
        var mbufs = new nint[2];
        Assert.Equal(1, h.Lb.Device.DequeueBurst(1, h.Pool, mbufs));
        var m = (HotPath.Engine.Buffers.Mbuf*)mbufs[0];
        Assert.Equal(HotPath.Engine.Buffers.MbufOffload.TxUdpCksum,
            m->OlFlags & HotPath.Engine.Buffers.MbufOffload.TxL4Mask);
        HotPath.Engine.Buffers.MbufOps.Free(m);
    }

    [Theory]
    [InlineData(VirtioNetHeader.FlagNeedsCsum, 0, 0, 150, 6)]    // checksum field beyond the packet
    [InlineData(0, VirtioNetHeader.GsoTcpV4, 0, 0, 0)]           // GSO with gso_size 0
    [InlineData(0, 9, 100, 0, 0)]                                 // unknown GSO type
    public void Case15_invalid_offload_requests_are_dropped(byte flags, byte gsoType, ushort gsoSize, ushort csumStart, ushort csumOffset)
    {
        using var h = new PackedHostile(Loopback.With(VirtioFeatures.NetCsum, VirtioFeatures.NetHostTso4));
        var hdr = new VirtioNetHeader { Flags = flags, GsoType = gsoType, GsoSize = gsoSize, CsumStart = csumStart, CsumOffset = csumOffset };
        byte[] raw = new byte[h.Hdr];
        System.Runtime.InteropServices.MemoryMarshal.Write(raw, in hdr);
        Assert.True(h.Tx.PostTx(raw, Payload.Make(100, 1)));
        h.ExpectTxDrop(DropReason.BadNetHeader, h.Tx.LastPostedHead);
    }
}
