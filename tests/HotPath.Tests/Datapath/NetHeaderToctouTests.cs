using System.Runtime.InteropServices;
using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Datapath;

/// <summary>
/// Issue 11, the class of DPDK's 2020-2022 offload CVEs: the guest rewrites the virtio-net header (flags, gso_type,
/// gso_size, csum_start, csum_offset, hdr_len) while the backend dequeues. The header is copied out of guest memory
/// once and validated and applied from that copy, so whatever the interleaving each chain is either a packet whose
/// bytes and offload metadata are consistent, or a drop counted as a bad header.
/// </summary>
[Collection(SerialCollection.Name)]
public unsafe class NetHeaderToctouTests
{
    private static readonly ulong Offloads = Loopback.With(VirtioFeatures.NetCsum, VirtioFeatures.NetHostTso4,
        VirtioFeatures.NetHostTso6, VirtioFeatures.NetHostUfo, VirtioFeatures.RingIndirectDesc);

    /// <summary>Rewrites one header field of one of the ring's TX buffers at a time, half the time with its valid value.</summary>
    private static GuestRewriter HeaderFlipper(byte*[] headers, VirtioNetHeader valid)
    {
        byte[] flags = { 0, VirtioNetHeader.FlagNeedsCsum, 0xFF, VirtioNetHeader.FlagDataValid };
        byte[] gsoTypes = { VirtioNetHeader.GsoNone, VirtioNetHeader.GsoTcpV4, VirtioNetHeader.GsoUdp, 0x7F, VirtioNetHeader.GsoTcpV6 | VirtioNetHeader.GsoEcn };
        ushort[] sizes = { 0, 1, 1448, 0xFFFF };
        ushort[] starts = { 0, 14, 34, 1000, 1033, 0xFFFF };
        ushort[] offsets = { 0, 6, 16, 0xFFFF };
        return new GuestRewriter(r =>
        {
            var hdr = (VirtioNetHeader*)headers[r.Next(headers.Length)];
            bool ok = r.Next(2) == 0;
            switch (r.Next(6))
            {
                case 0: Volatile.Write(ref hdr->Flags, ok ? valid.Flags : flags[r.Next(flags.Length)]); break;
                case 1: Volatile.Write(ref hdr->GsoType, ok ? valid.GsoType : gsoTypes[r.Next(gsoTypes.Length)]); break;
                case 2: Volatile.Write(ref hdr->GsoSize, ok ? valid.GsoSize : sizes[r.Next(sizes.Length)]); break;
                case 3: Volatile.Write(ref hdr->CsumStart, ok ? valid.CsumStart : starts[r.Next(starts.Length)]); break;
                case 4: Volatile.Write(ref hdr->CsumOffset, ok ? valid.CsumOffset : offsets[r.Next(offsets.Length)]); break;
                default: Volatile.Write(ref hdr->HdrLen, ok ? valid.HdrLen : sizes[r.Next(sizes.Length)]); break;
            }
        }, seed: 4321, name: "header-flipper");
    }

    [Fact]
    public void Offload_fields_rewritten_during_dequeue_give_consistent_packets_or_counted_drops()
    {
        using var h = new Hostile(Offloads, ringSize: 16);
        byte[] frame = Frames.Ipv4(6, 1000);
        var valid = new VirtioNetHeader { Flags = VirtioNetHeader.FlagNeedsCsum, CsumStart = 34, CsumOffset = 16 };
        byte[] hdr = new byte[h.Hdr];
        MemoryMarshal.Write(hdr, in valid);
        // Every TX buffer of the ring starts with the header (header and frame in one descriptor).
        var headers = new byte*[16];
        for (int id = 0; id < headers.Length; id++) headers[id] = (byte*)h.Lb.Memory.Host(h.Buf(h.Tx, (ushort)id));

        long packets = 0;
        var mbufs = new nint[8];
        int rounds;
        using (var flip = HeaderFlipper(headers, valid))
        {
            rounds = RaceRounds.Run(20000, () => packets > 0 && h.TxRing.Stats.Drops(DropReason.BadNetHeader) > 0, _ =>
            {
                Assert.True(h.Tx.PostTx(hdr, frame));
                h.Tx.Publish();
                ushort n = h.Lb.Device.DequeueBurst(1, h.Pool, mbufs);
                for (int k = 0; k < n; k++)
                {
                    var m = (Mbuf*)mbufs[k];
                    // The header never changes the packet, and what it made of the mbuf stays inside the packet.
                    Assert.Equal((uint)frame.Length, m->PktLen);
                    Assert.True(new ReadOnlySpan<byte>(m->Data, m->DataLen).SequenceEqual(frame));
                    ulong tx = m->TxOffload;
                    Assert.True(MbufOffload.L2Len(tx) + MbufOffload.L3Len(tx) + MbufOffload.L4Len(tx) <= frame.Length,
                        $"offload lengths {MbufOffload.L2Len(tx)}+{MbufOffload.L3Len(tx)}+{MbufOffload.L4Len(tx)} beyond the packet");
                    if ((m->OlFlags & (MbufOffload.TxTcpSeg | MbufOffload.TxUdpSeg)) != 0)
                        Assert.True(MbufOffload.TsoSegSize(tx) > 0, "segmentation requested with a segment size of 0");
                    MbufOps.Free(m);
                }
                packets += n;
                Assert.Equal(1, h.Tx.ReapTx());
            });
            Assert.True(flip.Writes > 0);
        }
        ulong drops = h.TxRing.Stats.TotalDrops;
        Assert.Equal(drops, h.TxRing.Stats.Drops(DropReason.BadNetHeader));   // no other kind of drop
        Assert.Equal(rounds, packets + (long)drops);
        Assert.True(drops > 0, $"the flipper never produced a bad header ({packets} packets in {rounds} rounds)");
        Assert.True(packets > 0, $"no header was ever valid ({drops} drops)");
        Assert.Equal(0u, h.Pool.InUse);
        Assert.False(h.TxRing.IsBroken);
    }
}
