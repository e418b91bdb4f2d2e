using System.Buffers.Binary;
using System.Runtime.InteropServices;
using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// SECURITY.md case 15 (virtio-net header: short chains, split headers, csum beyond the packet, GSO with size 0)
/// and the offload translation both ways (DPDK's vhost_dequeue_offload / virtio_enqueue_offload).
/// </summary>
public unsafe class NetHeaderTests
{
    private const ushort Next = VringDesc.FlagNext, Write = VringDesc.FlagWrite;

    private static readonly ulong Offloads = Loopback.With(VirtioFeatures.NetCsum, VirtioFeatures.NetHostTso4,
        VirtioFeatures.NetHostTso6, VirtioFeatures.NetHostUfo, VirtioFeatures.NetGuestCsum, VirtioFeatures.NetGuestTso4,
        VirtioFeatures.NetGuestTso6, VirtioFeatures.RingIndirectDesc);

    private static byte[] Header(int size, byte flags = 0, byte gso = 0, ushort gsoSize = 0, ushort csumStart = 0, ushort csumOffset = 0)
    {
        var h = new VirtioNetHeader { Flags = flags, GsoType = gso, GsoSize = gsoSize, CsumStart = csumStart, CsumOffset = csumOffset };
        var b = new byte[12];
        MemoryMarshal.Write(b, in h);
        return b[..size];
    }

    /// <summary>Posts a TX packet with <paramref name="hdr"/>, dequeues it and returns the mbuf (caller frees).</summary>
    private static Mbuf* DequeueOne(Hostile h, byte[] hdr, byte[] frame, int dataDescriptors = 1)
    {
        Assert.True(h.Tx.PostTx(hdr, frame, new(DataDescriptors: dataDescriptors)));
        h.Tx.Publish();
        var mbufs = new nint[4];
        Assert.Equal(1, h.Lb.Device.DequeueBurst(1, h.Pool, mbufs));
        return (Mbuf*)mbufs[0];
    }

    [Fact]
    public void Case15_tx_chain_shorter_than_the_header_is_dropped()
    {
        using var h = new Hostile();
        ushort a = h.Tx.RawTakeDescriptor();
        h.Tx.RawWriteDesc(a, h.Buf(h.Tx, a), 5, 0, 0);
        h.Tx.RawPushAvail(a);
        h.ExpectTxDrop(DropReason.ChainTooShort, a);
    }

    [Fact]
    public void Case15_tx_chain_of_only_a_header_is_dropped()
    {
        using var h = new Hostile();
        ushort a = h.Tx.RawTakeDescriptor();
        h.Tx.RawWriteDesc(a, h.Buf(h.Tx, a), (uint)h.Hdr, 0, 0);
        h.Tx.RawPushAvail(a);
        h.ExpectTxDrop(DropReason.ChainTooShort, a);
    }

    [Fact]
    public void Case15_header_split_across_three_descriptors_is_reassembled()
    {
        using var h = new Hostile(Offloads);
        byte[] frame = Frames.Ipv4(6, 200);
        byte[] hdr = Header(12, VirtioNetHeader.FlagNeedsCsum, csumStart: 34, csumOffset: 16);
        ushort a = h.Tx.RawTakeDescriptor(), b = h.Tx.RawTakeDescriptor(), c = h.Tx.RawTakeDescriptor(), d = h.Tx.RawTakeDescriptor();
        h.Tx.Buffers.Write(h.Buf(h.Tx, a), hdr.AsSpan(0, 5));
        h.Tx.Buffers.Write(h.Buf(h.Tx, b), hdr.AsSpan(5, 5));
        h.Tx.Buffers.Write(h.Buf(h.Tx, c), hdr.AsSpan(10, 2));
        h.Tx.Buffers.Write(h.Buf(h.Tx, d), frame);
        h.Tx.RawWriteDesc(a, h.Buf(h.Tx, a), 5, Next, b);
        h.Tx.RawWriteDesc(b, h.Buf(h.Tx, b), 5, Next, c);
        h.Tx.RawWriteDesc(c, h.Buf(h.Tx, c), 2, Next, d);
        h.Tx.RawWriteDesc(d, h.Buf(h.Tx, d), (uint)frame.Length, 0, 0);
        h.Tx.RawPushAvail(a);
        h.Tx.Publish();
        var mbufs = new nint[4];
        Assert.Equal(1, h.Lb.Device.DequeueBurst(1, h.Pool, mbufs));
        var m = (Mbuf*)mbufs[0];
        Assert.True(new ReadOnlySpan<byte>(m->Data, m->DataLen).SequenceEqual(frame));
        Assert.Equal(MbufOffload.TxTcpCksum | MbufOffload.TxIpv4, m->OlFlags);
        Assert.Equal(14, MbufOffload.L2Len(m->TxOffload));
        Assert.Equal(20, MbufOffload.L3Len(m->TxOffload));
        MbufOps.Free(m);
        Assert.Equal(0UL, h.TxRing.Stats.TotalDrops);
    }

    [Fact]
    public void Case15_header_split_with_the_data_starting_mid_descriptor_is_copied_exactly()
    {
        using var h = new Hostile();
        byte[] pkt = Payload.Make(500, 5);
        byte[] wire = new byte[h.Hdr].Concat(pkt).ToArray();
        ushort a = h.Tx.RawTakeDescriptor(), b = h.Tx.RawTakeDescriptor();
        h.Tx.Buffers.Write(h.Buf(h.Tx, a), wire.AsSpan(0, 7));
        h.Tx.Buffers.Write(h.Buf(h.Tx, b), wire.AsSpan(7));
        h.Tx.RawWriteDesc(a, h.Buf(h.Tx, a), 7, Next, b);
        h.Tx.RawWriteDesc(b, h.Buf(h.Tx, b), (uint)(wire.Length - 7), 0, 0);
        h.Tx.RawPushAvail(a);
        h.Tx.Publish();
        Assert.True(Payload.Matches(Assert.Single(h.Dequeue()), 5));
    }

    [Theory]
    [InlineData(100, 0, false)]     // csum_start beyond the packet
    [InlineData(60, 16, false)]     // csum field (start+offset+2) past the end of a 64-byte packet
    [InlineData(0xFFFF, 0xFFFF, false)]
    [InlineData(100, 0, true)]      // the same through the multi-descriptor path
    [InlineData(60, 16, true)]
    public void Case15_checksum_request_beyond_the_packet_is_dropped(int start, int offset, bool headerApart)
    {
        using var h = new Hostile(Offloads);
        byte[] hdr = Header(12, VirtioNetHeader.FlagNeedsCsum, csumStart: (ushort)start, csumOffset: (ushort)offset);
        Assert.True(h.Tx.PostTx(hdr, Payload.Make(64, 1), headerApart ? TxShape.HeaderApart : TxShape.Single));
        h.ExpectTxDrop(DropReason.BadNetHeader, h.Tx.LastPostedHead);
    }

    [Theory]
    [InlineData(VirtioNetHeader.GsoTcpV4)]
    [InlineData(VirtioNetHeader.GsoTcpV6)]
    [InlineData(VirtioNetHeader.GsoUdp)]
    public void Case15_gso_type_with_gso_size_zero_is_dropped(byte gso)
    {
        using var h = new Hostile(Offloads);
        Assert.True(h.Tx.PostTx(Header(12, gso: gso, gsoSize: 0), Frames.Ipv4(6, 1400)));
        h.ExpectTxDrop(DropReason.BadNetHeader, h.Tx.LastPostedHead);
    }

    [Fact]
    public void Case15_unknown_gso_type_is_dropped()
    {
        using var h = new Hostile(Offloads);
        Assert.True(h.Tx.PostTx(Header(12, gso: 7, gsoSize: 1000), Frames.Ipv4(6, 100)));
        h.ExpectTxDrop(DropReason.BadNetHeader, h.Tx.LastPostedHead);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Case15_rx_chain_too_small_for_the_header_is_dropped(bool mergeable)
    {
        using var h = new Hostile(mergeable ? Loopback.With(VirtioFeatures.NetMrgRxbuf) : 0);
        ushort a = h.Rx.RawTakeDescriptor();
        new Span<byte>(h.Rx.Buffers.Host(a), 8).Fill(0x33);
        h.Rx.RawWriteDesc(a, h.Buf(h.Rx, a), 8, Write, 0);
        h.Rx.RawPushAvail(a);
        h.ExpectRxDrop(DropReason.ChainTooShort, a);
        Assert.True(new ReadOnlySpan<byte>(h.Rx.Buffers.Host(a), 8).IndexOfAnyExcept((byte)0x33) < 0, "the too-small buffer was written");
    }

    [Fact]
    public void Tcp_checksum_request_becomes_an_mbuf_l4_checksum_flag()
    {
        using var h = new Hostile(Offloads);
        byte[] frame = Frames.Ipv4(6, 100);
        Mbuf* m = DequeueOne(h, Header(12, VirtioNetHeader.FlagNeedsCsum, csumStart: 34, csumOffset: 16), frame);
        Assert.Equal(MbufOffload.TxTcpCksum | MbufOffload.TxIpv4, m->OlFlags);
        MbufOps.Free(m);
    }

    [Fact]
    public void Udp_checksum_request_becomes_an_mbuf_l4_checksum_flag()
    {
        using var h = new Hostile(Offloads);
        Mbuf* m = DequeueOne(h, Header(12, VirtioNetHeader.FlagNeedsCsum, csumStart: 34, csumOffset: 6), Frames.Ipv4(17, 100));
        Assert.Equal(MbufOffload.TxUdpCksum | MbufOffload.TxIpv4, m->OlFlags);
        MbufOps.Free(m);
    }

    [Fact]
    public void Tcp_gso_becomes_tso_with_the_segment_size()
    {
        using var h = new Hostile(Offloads);
        Mbuf* m = DequeueOne(h, Header(12, VirtioNetHeader.FlagNeedsCsum, VirtioNetHeader.GsoTcpV4, 1448, 34, 16), Frames.Ipv4(6, 3000), dataDescriptors: 2);
        Assert.Equal(MbufOffload.TxTcpSeg | MbufOffload.TxTcpCksum | MbufOffload.TxIpv4, m->OlFlags);
        Assert.Equal(1448, MbufOffload.TsoSegSize(m->TxOffload));
        Assert.Equal(20, MbufOffload.L4Len(m->TxOffload));
        Assert.Equal(2, m->NbSegs);
        MbufOps.Free(m);
    }

    [Fact]
    public void Ipv6_tcp_gso_becomes_tso()
    {
        using var h = new Hostile(Offloads);
        Mbuf* m = DequeueOne(h, Header(12, VirtioNetHeader.FlagNeedsCsum, VirtioNetHeader.GsoTcpV6, 1400, 54, 16), Frames.Ipv6Tcp(1000));
        Assert.Equal(MbufOffload.TxTcpSeg | MbufOffload.TxTcpCksum | MbufOffload.TxIpv6, m->OlFlags);
        Assert.Equal(40, MbufOffload.L3Len(m->TxOffload));
        MbufOps.Free(m);
    }

    [Fact]
    public void Checksum_request_that_does_not_match_the_packet_clears_offloads_but_delivers_it()
    {
        using var h = new Hostile(Offloads);
        // Says UDP at offset 6 on a TCP packet: DPDK drops the offload request, not the packet.
        Mbuf* m = DequeueOne(h, Header(12, VirtioNetHeader.FlagNeedsCsum, csumStart: 34, csumOffset: 6), Frames.Ipv4(6, 100));
        Assert.Equal(0UL, m->OlFlags);
        Assert.Equal(0UL, h.TxRing.Stats.TotalDrops);
        MbufOps.Free(m);
    }

    [Fact]
    public void Header_is_ignored_without_host_offload_features()
    {
        using var h = new Hostile();
        Mbuf* m = DequeueOne(h, Header(12, VirtioNetHeader.FlagNeedsCsum, csumStart: 9999), Payload.Make(64, 1));
        Assert.Equal(0UL, m->OlFlags);
        Assert.Equal(0UL, h.TxRing.Stats.TotalDrops);
        MbufOps.Free(m);
    }

    [Fact]
    public void Enqueue_writes_checksum_and_tso_requests_into_the_guest_header_with_the_pseudo_header_sum()
    {
        using var h = new Hostile(Offloads | (1UL << VirtioFeatures.NetMrgRxbuf));
        byte[] frame = Frames.Ipv4(6, 3000);
        h.Rx.FillRx(2048);
        var buf = new byte[8192];
        RxInfo info = EnqueueOffloaded(h, frame, MbufOffload.TxTcpSeg | MbufOffload.TxIpv4 | MbufOffload.TxIpCksum,
            MbufOffload.TxOffload(14, 20, 20, 1460), buf, segData: 4000);
        Assert.Equal(frame.Length, info.Length);
        Assert.Equal(VirtioNetHeader.FlagNeedsCsum, info.Header.Flags);
        Assert.Equal(VirtioNetHeader.GsoTcpV4, info.Header.GsoType);
        Assert.Equal(1460, info.Header.GsoSize);
        Assert.Equal(54, info.Header.HdrLen);
        Assert.Equal(34, info.Header.CsumStart);
        Assert.Equal(16, info.Header.CsumOffset);
        Span<byte> got = buf.AsSpan(0, info.Length);
        Assert.Equal(0, Frames.Verify(got.Slice(14, 20)));   // IPv4 header checksum computed
        // TSO: the TCP checksum field holds the pseudo-header sum with L4 length 0.
        Assert.Equal(Frames.Ipv4PseudoSum(got[14..], 0), BinaryPrimitives.ReadUInt16BigEndian(got[(34 + 16)..]));
    }

    [Fact]
    public void Enqueue_udp_checksum_request_sets_needs_csum_and_the_pseudo_header_sum()
    {
        using var h = new Hostile(Offloads);
        byte[] frame = Frames.Ipv4(17, 300);
        h.Rx.PostRx(2048);
        var buf = new byte[4096];
        RxInfo info = EnqueueOffloaded(h, frame, MbufOffload.TxUdpCksum | MbufOffload.TxIpv4, MbufOffload.TxOffload(14, 20, 8, 0), buf);
        Assert.Equal(VirtioNetHeader.FlagNeedsCsum, info.Header.Flags);
        Assert.Equal(34, info.Header.CsumStart);
        Assert.Equal(6, info.Header.CsumOffset);
        Assert.Equal(VirtioNetHeader.GsoNone, info.Header.GsoType);
        Assert.Equal(Frames.Ipv4PseudoSum(buf.AsSpan(14), 8 + 300), BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(34 + 6)));
    }

    /// <summary>
    /// Publishes the RX buffers the test posted, enqueues <paramref name="frame"/> as one mbuf asking for
    /// <paramref name="olFlags"/> with <paramref name="txOffload"/> lengths, and returns the packet the guest received
    /// into <paramref name="buf"/>.
    /// </summary>
    private static RxInfo EnqueueOffloaded(Hostile h, byte[] frame, ulong olFlags, ulong txOffload, byte[] buf, int segData = 2048)
    {
        h.Rx.Publish();
        Mbuf* m = HandMbufs.Make(frame, segData);
        m->OlFlags = olFlags;
        m->TxOffload = txOffload;
        try { Assert.Equal(1, h.Lb.Device.EnqueueBurst(0, &m, 1)); }
        finally { HandMbufs.Free(m); }
        Assert.True(h.Rx.TryReceive(buf, out RxInfo info));
        return info;
    }
}
