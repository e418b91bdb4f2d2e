using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;

namespace HotPath.Tests.Datapath;

/// <summary>
/// SECURITY.md cases 11 (loops, over-long chains, next out of range), 12 (indirect tables), 13 (buffer addresses)
/// and 14 (direction) on split rings. Each bad chain sits in front of a good one: the bad one is dropped, counted
/// by reason and returned used with length 0; the good one still arrives in the same burst.
/// </summary>
public unsafe class DescriptorChainTests
{
    private const ushort Next = VringDesc.FlagNext, Write = VringDesc.FlagWrite, Indirect = VringDesc.FlagIndirect;

    /// <summary>Writes a raw TX chain, pushes its head, then checks it is dropped next to a good packet.</summary>
    private static void TxBadThenGood(Hostile h, DropReason reason, Func<Hostile, ushort> writeBadChain)
    {
        ushort bad = writeBadChain(h);
        h.Tx.RawPushAvail(bad);
        h.ExpectTxDrop(reason, bad);
    }

    /// <summary>Writes a raw RX chain, pushes its head, then checks it is dropped while a good buffer gets the packet.</summary>
    private static void RxBadThenGood(Hostile h, DropReason reason, Func<Hostile, ushort> writeBadChain)
    {
        ushort bad = writeBadChain(h);
        h.Rx.RawPushAvail(bad);
        h.ExpectRxDrop(reason, bad);
    }

    // ---------------------------------------------------------------- case 11

    [Fact]
    public void Case11_tx_descriptor_loop_is_dropped_as_chain_too_long()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.ChainTooLong, h =>
        {
            ushort a = h.Tx.RawTakeDescriptor(), b = h.Tx.RawTakeDescriptor();
            h.Tx.RawWriteDesc(a, h.Buf(h.Tx, a), 64, Next, b);
            h.Tx.RawWriteDesc(b, h.Buf(h.Tx, b), 64, Next, a);
            return a;
        });
    }

    [Fact]
    public void Case11_tx_loop_of_zero_length_descriptors_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.ChainTooLong, h =>
        {
            ushort a = h.Tx.RawTakeDescriptor(), b = h.Tx.RawTakeDescriptor();
            h.Tx.RawWriteDesc(a, h.Buf(h.Tx, a), 0, Next, b);
            h.Tx.RawWriteDesc(b, 0, 0, Next, a);
            return a;
        });
    }

    [Fact]
    public void Case11_tx_self_loop_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.ChainTooLong, h =>
        {
            ushort a = h.Tx.RawTakeDescriptor();
            h.Tx.RawWriteDesc(a, h.Buf(h.Tx, a), 32, Next, a);
            return a;
        });
    }

    [Fact]
    public void Case11_chain_as_long_as_the_ring_is_accepted()
    {
        using var h = new Hostile(ringSize: 16);
        // Uses every descriptor of the ring: the longest legal chain.
        var payload = Payload.Make(16 * 50, 3);
        Assert.True(h.Tx.PostTx(new byte[h.Hdr], payload, new(SeparateHeader: true, DataDescriptors: 15)));
        h.Tx.Publish();
        Assert.True(Payload.Matches(Assert.Single(h.Dequeue()), 3));
        Assert.Equal(0UL, h.TxRing.Stats.TotalDrops);
    }

    [Fact]
    public void Case11_tx_next_outside_the_table_is_dropped()
    {
        using var h = new Hostile(ringSize: 16);
        TxBadThenGood(h, DropReason.DescIndexOutOfRange, h =>
        {
            ushort a = h.Tx.RawTakeDescriptor();
            h.Tx.RawWriteDesc(a, h.Buf(h.Tx, a), 64, Next, 16);
            return a;
        });
    }

    [Fact]
    public void Case11_head_index_outside_the_table_is_dropped()
    {
        using var h = new Hostile(ringSize: 16);
        TxBadThenGood(h, DropReason.DescIndexOutOfRange, _ => 0xFFFF);
    }

    [Fact]
    public void Case11_rx_descriptor_loop_is_dropped_and_nothing_is_written_outside_buffers()
    {
        using var h = new Hostile();
        RxBadThenGood(h, DropReason.ChainTooLong, h =>
        {
            ushort a = h.Rx.RawTakeDescriptor(), b = h.Rx.RawTakeDescriptor();
            h.Rx.RawWriteDesc(a, h.Buf(h.Rx, a), 8, (ushort)(Write | Next), b);
            h.Rx.RawWriteDesc(b, h.Buf(h.Rx, b), 8, (ushort)(Write | Next), a);
            return a;
        });
    }

    // ---------------------------------------------------------------- case 12

    private static ushort IndirectHead(Hostile h, uint tableLen, ushort flags = Indirect, Action<Hostile, ushort>? fill = null)
    {
        ushort head = h.Tx.RawTakeDescriptor();
        ulong table = h.Tx.RawWriteIndirect(head, 0, h.Buf(h.Tx, head), 64, 0, 0);
        fill?.Invoke(h, head);
        h.Tx.RawWriteDesc(head, table, tableLen, flags, 0);
        return head;
    }

    [Fact]
    public void Case12_indirect_table_of_length_zero_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.IndirectBadLength, h => IndirectHead(h, 0));
    }

    [Fact]
    public void Case12_indirect_table_length_not_a_multiple_of_16_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.IndirectBadLength, h => IndirectHead(h, 24));
    }

    [Fact]
    public void Case12_indirect_table_with_more_entries_than_the_ring_is_dropped()
    {
        using var h = new Hostile(ringSize: 16);
        TxBadThenGood(h, DropReason.IndirectTooLarge, h => IndirectHead(h, 17 * 16));
    }

    [Fact]
    public void Case12_indirect_inside_an_indirect_table_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.IndirectNested, h => IndirectHead(h, 32, fill: (h, head) =>
        {
            ulong t = h.Tx.RawWriteIndirect(head, 0, h.Buf(h.Tx, head), 12, Next, 1);
            h.Tx.RawWriteIndirect(head, 1, t, 32, Indirect, 0);   // points back at its own table
        }));
    }

    [Fact]
    public void Case12_indirect_together_with_next_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.IndirectWithNext, h => IndirectHead(h, 16, (ushort)(Indirect | Next)));
    }

    [Fact]
    public void Case12_indirect_table_outside_memory_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.IndirectOutsideMemory, h =>
        {
            ushort head = h.Tx.RawTakeDescriptor();
            h.Tx.RawWriteDesc(head, 0x10, 64, Indirect, 0);   // gpa 0x10: below every region
            return head;
        });
    }

    [Fact]
    public void Case12_indirect_table_loop_is_bounded_by_its_entry_count()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.ChainTooLong, h => IndirectHead(h, 32, fill: (h, head) =>
        {
            h.Tx.RawWriteIndirect(head, 0, h.Buf(h.Tx, head), 12, Next, 1);
            h.Tx.RawWriteIndirect(head, 1, h.Buf(h.Tx, head), 12, Next, 0);
        }));
    }

    [Fact]
    public void Case12_indirect_next_beyond_the_table_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.DescIndexOutOfRange, h => IndirectHead(h, 32, fill: (h, head) =>
            h.Tx.RawWriteIndirect(head, 0, h.Buf(h.Tx, head), 12, Next, 2)));   // table has 2 entries
    }

    // ---------------------------------------------------------------- case 13

    [Fact]
    public void Case13_tx_buffer_outside_every_region_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.BufferOutsideMemory, h =>
        {
            ushort a = h.Tx.RawTakeDescriptor();
            var r0 = h.Lb.Memory.Regions[0];
            h.Tx.RawWriteDesc(a, r0.GuestPhysAddr + r0.Size + 0x1000, 100, 0, 0);   // in the gap after region 0
            return a;
        });
    }

    [Fact]
    public void Case13_tx_buffer_running_past_the_end_of_a_region_into_a_gap_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.BufferOutsideMemory, h =>
        {
            ushort a = h.Tx.RawTakeDescriptor();
            var r0 = h.Lb.Memory.Regions[0];
            h.Tx.RawWriteDesc(a, r0.GuestPhysAddr + r0.Size - 50, 100, 0, 0);
            return a;
        });
    }

    [Fact]
    public void Case13_tx_buffer_whose_range_wraps_around_u64_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.BufferOutsideMemory, h =>
        {
            ushort a = h.Tx.RawTakeDescriptor();
            h.Tx.RawWriteDesc(a, ulong.MaxValue - 20, 100, 0, 0);
            return a;
        });
    }

    [Fact]
    public void Case13_rx_buffer_outside_memory_is_dropped()
    {
        using var h = new Hostile();
        RxBadThenGood(h, DropReason.BufferOutsideMemory, h =>
        {
            ushort a = h.Rx.RawTakeDescriptor();
            h.Rx.RawWriteDesc(a, 0x1000, 2048, Write, 0);
            return a;
        });
    }

    [Fact]
    public void Case13_rx_buffer_crossing_contiguous_regions_is_written_in_two_pieces()
    {
        // Two regions back to back in guest physical space (gap 0): the crossing buffer is half in each.
        using var h = new Hostile(regionSizes: new ulong[] { 8 << 20, 8 << 20 }, regionGap: 0, crossing: true);
        Assert.Equal(2, h.Lb.Device.Memory!.Count);
        Assert.True(h.Rx.PostRx(1600, crossRegion: true));
        h.Rx.Publish();
        Assert.Equal(1, h.Enqueue(seq: 22, size: 1500));
        var buf = new byte[2048];
        Assert.True(h.Rx.TryReceive(buf, out var info));
        Assert.Equal(1500, info.Length);
        Assert.True(Payload.Matches(buf.AsSpan(0, 1500), 22));
        Assert.True(h.Lb.GuardsIntact());
        Assert.Equal(0UL, h.RxRing.Stats.TotalDrops);
    }

    [Fact]
    public void Case12_indirect_table_crossing_contiguous_regions_is_read_entry_by_entry()
    {
        using var h = new Hostile(regionSizes: new ulong[] { 8 << 20, 8 << 20 }, regionGap: 0, crossing: true);
        var d = h.Rx.Buffers;
        ulong table = d.CrossingGpa + d.CrossingSplit - 32;   // entries 0-1 in region 0, 2-3 in region 1
        ushort head = h.Tx.RawTakeDescriptor();
        ushort[] bufs = { h.Tx.RawTakeDescriptor(), h.Tx.RawTakeDescriptor(), h.Tx.RawTakeDescriptor(), h.Tx.RawTakeDescriptor() };
        byte[] pkt = Payload.Make(300, 41);
        byte[] wire = new byte[h.Hdr].Concat(pkt).ToArray();   // header + data, cut into 4 entries of 78 bytes
        var entries = new byte[64];
        for (int i = 0; i < 4; i++)
        {
            h.Tx.Buffers.Write(h.Buf(h.Tx, bufs[i]), wire.AsSpan(i * 78, 78));
            var e = new VringDesc { Addr = h.Buf(h.Tx, bufs[i]), Len = 78, Flags = i < 3 ? Next : (ushort)0, Next = (ushort)(i + 1) };
            System.Runtime.InteropServices.MemoryMarshal.Write(entries.AsSpan(i * 16), in e);
        }
        d.Write(table, entries);
        h.Tx.RawWriteDesc(head, table, 64, Indirect, 0);
        h.Tx.RawPushAvail(head);
        h.Tx.Publish();
        Assert.True(Payload.Matches(Assert.Single(h.Dequeue()), 41));
        Assert.Equal(0UL, h.TxRing.Stats.TotalDrops);
    }

    [Fact]
    public void Case13_tx_buffer_crossing_contiguous_regions_is_dequeued_exactly()
    {
        using var lb = new Loopback(regionSizes: new ulong[] { 8 << 20, 8 << 20 }, regionGap: 0, crossing: true);
        // Put the crossing buffer on the TX ring through a raw descriptor (the driver's crossing buffer is on Rx[0]).
        using var pool = TestPools.Create(count: 64);
        var d = lb.Rx[0].Buffers;
        byte[] pkt = Payload.Make(1800, 23);
        var hdr = new byte[lb.Tx[0].HeaderSize];
        d.Write(d.CrossingGpa, hdr);
        d.Write(d.CrossingGpa + (ulong)hdr.Length, pkt);
        ushort a = lb.Tx[0].RawTakeDescriptor();
        lb.Tx[0].RawWriteDesc(a, d.CrossingGpa, (uint)(hdr.Length + pkt.Length), 0, 0);
        lb.Tx[0].RawPushAvail(a);
        lb.Tx[0].Publish();
        var mbufs = new nint[4];
        Assert.Equal(1, lb.Device.DequeueBurst(1, pool, mbufs));
        var m = (HotPath.Engine.Buffers.Mbuf*)mbufs[0];
        Assert.Equal(1800u, m->PktLen);
        Assert.True(Payload.Matches(new ReadOnlySpan<byte>(m->Data, m->DataLen), 23));
        HotPath.Engine.Buffers.MbufOps.Free(m);
        Assert.Equal(0u, pool.InUse);
    }

    [Fact]
    public void Case13_zero_length_descriptors_inside_a_chain_are_tolerated()
    {
        using var h = new Hostile();
        byte[] pkt = Payload.Make(90, 31);
        // 5 data descriptors for 90 bytes... plus explicit zero-length ones written raw.
        ushort a = h.Tx.RawTakeDescriptor(), z = h.Tx.RawTakeDescriptor(), b = h.Tx.RawTakeDescriptor();
        var hdr = new byte[h.Hdr];
        h.Tx.Buffers.Write(h.Buf(h.Tx, a), hdr);
        h.Tx.Buffers.Write(h.Buf(h.Tx, b), pkt);
        h.Tx.RawWriteDesc(a, h.Buf(h.Tx, a), (uint)h.Hdr, Next, z);
        h.Tx.RawWriteDesc(z, 0xDEAD_0000_0000, 0, Next, b);   // zero length: its address is never looked at
        h.Tx.RawWriteDesc(b, h.Buf(h.Tx, b), 90, 0, 0);
        h.Tx.RawPushAvail(a);
        h.Tx.Publish();
        Assert.True(Payload.Matches(Assert.Single(h.Dequeue()), 31));
        Assert.Equal(0UL, h.TxRing.Stats.TotalDrops);
    }

    // ---------------------------------------------------------------- case 14

    [Fact]
    public void Case14_writable_descriptor_on_a_tx_chain_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.WrongDirection, h =>
        {
            ushort a = h.Tx.RawTakeDescriptor(), b = h.Tx.RawTakeDescriptor();
            h.Tx.RawWriteDesc(a, h.Buf(h.Tx, a), 64, Next, b);
            h.Tx.RawWriteDesc(b, h.Buf(h.Tx, b), 64, Write, 0);
            return a;
        });
    }

    [Fact]
    public void Case14_readable_descriptor_on_an_rx_chain_is_never_written()
    {
        using var h = new Hostile();
        ushort ro = 0;
        byte[] before = new byte[2048];
        RxBadThenGood(h, DropReason.WrongDirection, h =>
        {
            ushort a = h.Rx.RawTakeDescriptor();
            ro = h.Rx.RawTakeDescriptor();
            new Span<byte>(h.Rx.Buffers.Host(ro), 2048).Fill(0x5C);
            new Span<byte>(h.Rx.Buffers.Host(ro), 2048).CopyTo(before);
            h.Rx.RawWriteDesc(a, h.Buf(h.Rx, a), 2048, (ushort)(Write | Next), ro);   // writable, then readable
            h.Rx.RawWriteDesc(ro, h.Buf(h.Rx, ro), 2048, 0, 0);
            return a;
        });
        Assert.True(new ReadOnlySpan<byte>(h.Rx.Buffers.Host(ro), 2048).SequenceEqual(before), "the readable buffer was written");
    }

    [Fact]
    public void Case14_rx_chain_made_only_of_readable_descriptors_is_dropped()
    {
        using var h = new Hostile();
        RxBadThenGood(h, DropReason.WrongDirection, h =>
        {
            ushort a = h.Rx.RawTakeDescriptor();
            h.Rx.RawWriteDesc(a, h.Buf(h.Rx, a), 2048, 0, 0);
            return a;
        });
    }
}
