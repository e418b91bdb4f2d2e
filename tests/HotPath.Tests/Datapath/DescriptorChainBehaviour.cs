using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Frontend.Rings;
using static HotPath.Tests.Datapath.DescFlags;

namespace HotPath.Tests.Datapath;

/// <summary>
/// SECURITY.md cases 11-14 that every ring type must meet alike: over-long chains, indirect tables, buffer addresses
/// and direction. Each bad chain sits in front of a good one: the bad one is dropped, counted by reason and returned
/// used with length 0; the good one still arrives in the same burst. Raw chains go through the hostile rig
/// (<see cref="HostileRig{TDriver}.PostRaw"/>), so one case is written once; a concrete class per ring type
/// (<see cref="DescriptorChainTests"/>, <see cref="PackedDescriptorChainTests"/>) supplies the rig and the cases
/// only its layout has (split next-index loops, packed availability and buffer ids).
/// </summary>
public abstract unsafe class DescriptorChainBehaviour<TDriver> where TDriver : class, IRingDriver
{
    /// <summary>A hostile-guest rig of this ring type.</summary>
    private protected static HostileRig<TDriver> Rig(ulong features = 0, uint ringSize = 16, ulong[]? regionSizes = null,
        ulong regionGap = 0x20_0000, bool crossing = false) =>
        HostileRig<TDriver>.Create(features, ringSize, regionSizes, regionGap, crossing);

    /// <summary>Posts a raw TX chain under a fresh buffer id (whose buffer the descriptors may use) and checks it is
    /// dropped next to a good packet.</summary>
    private protected static void TxBadThenGood(HostileRig<TDriver> h, DropReason reason, Func<HostileRig<TDriver>, ushort, RawDesc[]> chain)
    {
        ushort id = h.TakeRaw(h.Tx);
        h.PostRaw(h.Tx, id, chain(h, id));
        h.ExpectTxDrop(reason, id);
    }

    /// <summary>Posts a raw RX chain under a fresh buffer id and checks it is dropped while a good buffer gets the packet.</summary>
    private protected static void RxBadThenGood(HostileRig<TDriver> h, DropReason reason, Func<HostileRig<TDriver>, ushort, RawDesc[]> chain)
    {
        ushort id = h.TakeRaw(h.Rx);
        h.PostRaw(h.Rx, id, chain(h, id));
        h.ExpectRxDrop(reason, id);
    }

    // ---------------------------------------------------------------- case 11

    [Fact]
    public void Case11_chain_as_long_as_the_ring_is_accepted()
    {
        using var h = Rig(ringSize: 16);
        // A separate header and 15 data descriptors: every descriptor (split) or slot (packed), the longest legal chain.
        var payload = Payload.Make(16 * 50, 3);
        Assert.True(h.Tx.PostTx(new byte[h.Hdr], payload, new(SeparateHeader: true, DataDescriptors: 15)));
        h.ExpectTxDelivered(3);
        Assert.Equal(1, h.Tx.ReapTx());
        Assert.Equal(16, h.Tx.FreeDescriptors);
    }

    // ---------------------------------------------------------------- case 12

    /// <summary>An indirect head of <paramref name="tableLen"/> bytes over the table of <paramref name="id"/>, whose
    /// first entry is a 64-byte buffer unless <paramref name="fill"/> (given the table's gpa) writes the table.</summary>
    private protected static RawDesc IndirectHead(HostileRig<TDriver> h, ushort id, uint tableLen, ushort flags = Indirect,
        Action<HostileRig<TDriver>, ushort, ulong>? fill = null)
    {
        ulong table = h.WriteIndirect(h.Tx, id, new RawDesc(h.Buf(h.Tx, id), 64));
        fill?.Invoke(h, id, table);
        return new RawDesc(table, tableLen, flags);
    }

    [Fact]
    public void Case12_indirect_table_of_length_zero_is_dropped()
    {
        using var h = Rig();
        TxBadThenGood(h, DropReason.IndirectBadLength, (h, id) => [IndirectHead(h, id, 0)]);
    }

    [Fact]
    public void Case12_indirect_table_length_not_a_multiple_of_16_is_dropped()
    {
        using var h = Rig();
        TxBadThenGood(h, DropReason.IndirectBadLength, (h, id) => [IndirectHead(h, id, 24)]);
    }

    [Fact]
    public void Case12_indirect_table_with_more_entries_than_the_ring_is_dropped()
    {
        using var h = Rig(ringSize: 16);
        TxBadThenGood(h, DropReason.IndirectTooLarge, (h, id) => [IndirectHead(h, id, 17 * 16)]);
    }

    [Fact]
    public void Case12_indirect_inside_an_indirect_table_is_dropped()
    {
        using var h = Rig();
        TxBadThenGood(h, DropReason.IndirectNested, (h, id) => [IndirectHead(h, id, 32, fill: (h, id, table) =>
            // The second entry points back at its own table (split reaches it through next; packed reads in order).
            h.WriteIndirect(h.Tx, id, new RawDesc(h.Buf(h.Tx, id), 12, Next), new RawDesc(table, 32, Indirect)))]);
    }

    [Fact]
    public void Case12_indirect_table_outside_memory_is_dropped()
    {
        using var h = Rig();
        TxBadThenGood(h, DropReason.IndirectOutsideMemory, (_, _) => [new RawDesc(0x10, 64, Indirect)]);   // below every region
    }

    [Fact]
    public void Case12_indirect_table_crossing_contiguous_regions_is_read_entry_by_entry()
    {
        using var h = Rig(regionSizes: new ulong[] { 8 << 20, 8 << 20 }, regionGap: 0, crossing: true);
        var d = h.Rx.Buffers;
        ulong table = d.CrossingGpa + d.CrossingSplit - 32;   // entries 0-1 in region 0, 2-3 in region 1
        ushort id = h.TakeRaw(h.Tx);
        ushort[] bufs = { h.TakeRaw(h.Tx), h.TakeRaw(h.Tx), h.TakeRaw(h.Tx), h.TakeRaw(h.Tx) };
        byte[] pkt = Payload.Make(300, 41);
        byte[] wire = new byte[h.Hdr].Concat(pkt).ToArray();   // header + data, cut into 4 entries
        int part = wire.Length / 4;
        var entries = new RawDesc[4];
        for (int i = 0; i < 4; i++)
        {
            int len = i < 3 ? part : wire.Length - 3 * part;
            h.Tx.Buffers.Write(h.Buf(h.Tx, bufs[i]), wire.AsSpan(i * part, len));
            entries[i] = new RawDesc(h.Buf(h.Tx, bufs[i]), (uint)len, i < 3 ? Next : (ushort)0);
        }
        d.Write(table, h.IndirectTableBytes(entries));
        h.PostRaw(h.Tx, id, new RawDesc(table, 64, Indirect));
        h.ExpectTxDelivered(41);
    }

    // ---------------------------------------------------------------- case 13

    [Fact]
    public void Case13_tx_buffer_outside_every_region_is_dropped()
    {
        using var h = Rig();
        var r0 = h.Lb.Memory.Regions[0];
        TxBadThenGood(h, DropReason.BufferOutsideMemory, (_, _) => [new RawDesc(r0.GuestPhysAddr + r0.Size + 0x1000, 100)]);   // in the gap after region 0
    }

    [Fact]
    public void Case13_tx_buffer_running_past_the_end_of_a_region_into_a_gap_is_dropped()
    {
        using var h = Rig();
        var r0 = h.Lb.Memory.Regions[0];
        TxBadThenGood(h, DropReason.BufferOutsideMemory, (_, _) => [new RawDesc(r0.GuestPhysAddr + r0.Size - 50, 100)]);
    }

    [Fact]
    public void Case13_tx_buffer_whose_range_wraps_around_u64_is_dropped()
    {
        using var h = Rig();
        TxBadThenGood(h, DropReason.BufferOutsideMemory, (_, _) => [new RawDesc(ulong.MaxValue - 20, 100)]);
    }

    [Fact]
    public void Case13_rx_buffer_outside_memory_is_dropped()
    {
        using var h = Rig();
        RxBadThenGood(h, DropReason.BufferOutsideMemory, (_, _) => [new RawDesc(0x1000, 2048, Write)]);
    }

    [Fact]
    public void Case13_rx_buffer_crossing_contiguous_regions_is_written_in_two_pieces()
    {
        // Two regions back to back in guest physical space (gap 0): the crossing buffer is half in each.
        using var h = Rig(regionSizes: new ulong[] { 8 << 20, 8 << 20 }, regionGap: 0, crossing: true);
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
    public void Case13_tx_buffer_crossing_contiguous_regions_is_dequeued_exactly()
    {
        using var h = Rig(regionSizes: new ulong[] { 8 << 20, 8 << 20 }, regionGap: 0, crossing: true);
        // Put the crossing buffer on the TX ring through a raw descriptor (the driver's crossing buffer is on Rx[0]).
        var d = h.Rx.Buffers;
        byte[] pkt = Payload.Make(1800, 23);
        var hdr = new byte[h.Hdr];
        d.Write(d.CrossingGpa, hdr);
        d.Write(d.CrossingGpa + (ulong)hdr.Length, pkt);
        h.PostRaw(h.Tx, h.TakeRaw(h.Tx), new RawDesc(d.CrossingGpa, (uint)(hdr.Length + pkt.Length)));
        h.Tx.Publish();
        var mbufs = new nint[4];
        Assert.Equal(1, h.Lb.Device.DequeueBurst(1, h.Pool, mbufs));
        var m = (Mbuf*)mbufs[0];
        Assert.Equal(1800u, m->PktLen);
        Assert.True(Payload.Matches(new ReadOnlySpan<byte>(m->Data, m->DataLen), 23));
        MbufOps.Free(m);
        Assert.Equal(0u, h.Pool.InUse);
    }

    [Fact]
    public void Case13_zero_length_descriptors_inside_a_chain_are_tolerated()
    {
        using var h = Rig();
        byte[] pkt = Payload.Make(90, 31);
        ushort a = h.TakeRaw(h.Tx), b = h.TakeRaw(h.Tx);
        h.Tx.Buffers.Write(h.Buf(h.Tx, a), new byte[h.Hdr]);
        h.Tx.Buffers.Write(h.Buf(h.Tx, b), pkt);
        // The zero-length descriptor's address is never looked at.
        h.PostRaw(h.Tx, a, new RawDesc(h.Buf(h.Tx, a), (uint)h.Hdr, Next), new RawDesc(0xDEAD_0000_0000, 0, Next), new RawDesc(h.Buf(h.Tx, b), 90));
        h.ExpectTxDelivered(31);
    }

    // ---------------------------------------------------------------- case 14

    [Fact]
    public void Case14_writable_descriptor_on_a_tx_chain_is_dropped()
    {
        using var h = Rig();
        TxBadThenGood(h, DropReason.WrongDirection, (h, id) => [new RawDesc(h.Buf(h.Tx, id), 64, Next), new RawDesc(h.Buf(h.Tx, id), 64, Write)]);
    }

    [Fact]
    public void Case14_readable_descriptor_on_an_rx_chain_is_never_written()
    {
        using var h = Rig();
        ushort ro = h.TakeRaw(h.Rx);
        new Span<byte>(h.Rx.Buffers.Host(ro), 2048).Fill(0x5C);
        RxBadThenGood(h, DropReason.WrongDirection, (h, id) =>
            [new RawDesc(h.Buf(h.Rx, id), 2048, (ushort)(Write | Next)), new RawDesc(h.Buf(h.Rx, ro), 2048)]);   // writable, then readable
        Assert.True(new ReadOnlySpan<byte>(h.Rx.Buffers.Host(ro), 2048).IndexOfAnyExcept((byte)0x5C) < 0, "the readable buffer was written");
    }

    [Fact]
    public void Case14_rx_chain_made_only_of_readable_descriptors_is_dropped()
    {
        using var h = Rig();
        RxBadThenGood(h, DropReason.WrongDirection, (h, id) => [new RawDesc(h.Buf(h.Rx, id), 2048)]);
    }
}
