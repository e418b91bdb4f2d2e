using System.Buffers.Binary;
using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;

namespace HotPath.Engine.Datapath;

/// <summary>
/// The virtio-net header between guest buffers and mbufs, independent of the ring type. Reading copies the
/// header out of guest memory once (it may be split across pieces) into a local; everything after works on the
/// local. Dequeue turns it into mbuf TX offload requests as DPDK's vhost_dequeue_offload (legacy flags) does;
/// enqueue builds it from the mbuf's offload flags as DPDK's virtio_enqueue_offload.
/// </summary>
public static unsafe class NetHeaderCodec
{
    private const ushort EtherTypeIpv4 = 0x0800, EtherTypeIpv6 = 0x86DD, EtherTypeVlan = 0x8100;
    private const byte ProtoTcp = 6, ProtoUdp = 17, ProtoSctp = 132;

    /// <summary>
    /// Copies the first <paramref name="hdrSize"/> bytes of the pieces into <paramref name="hdr"/> (read once).
    /// Returns false when the pieces hold fewer bytes than the header.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Read(BufPiece* vec, int nVec, int hdrSize, out VirtioNetHeader hdr)
    {
        Debug.Assert(hdrSize is VirtioNetHeader.LegacySize or VirtioNetHeader.MrgSize);
        hdr = default;
        if (nVec > 0 && vec->Len >= (uint)hdrSize)
        {
            // SAFETY: the first piece holds at least hdrSize bytes; read exactly hdrSize of them.
            byte* src = vec->Host;
            Unsafe.As<VirtioNetHeader, ulong>(ref hdr) = Unsafe.ReadUnaligned<ulong>(src);
            ref byte tail = ref Unsafe.Add(ref Unsafe.As<VirtioNetHeader, byte>(ref hdr), 8);
            if (hdrSize == VirtioNetHeader.MrgSize) Unsafe.As<byte, uint>(ref tail) = Unsafe.ReadUnaligned<uint>(src + 8);
            else Unsafe.As<byte, ushort>(ref tail) = Unsafe.ReadUnaligned<ushort>(src + 8);
            return true;
        }
        return ReadSplit(vec, nVec, hdrSize, ref hdr);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool ReadSplit(BufPiece* vec, int nVec, int hdrSize, ref VirtioNetHeader hdr)
    {
        byte* dst = (byte*)Unsafe.AsPointer(ref hdr);
        int remain = hdrSize;
        for (int i = 0; i < nVec && remain > 0; i++)
        {
            int n = (int)Math.Min((uint)remain, vec[i].Len);
            // SAFETY: n <= piece length and n <= bytes left in the 12-byte local.
            Unsafe.CopyBlockUnaligned(dst, vec[i].Host, (uint)n);
            dst += n;
            remain -= n;
        }
        return remain == 0;
    }

    /// <summary>
    /// Writes <paramref name="hdr"/> (its first <paramref name="hdrSize"/> bytes) at the start of the pieces.
    /// The caller has checked that the pieces hold at least that many bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(BufPiece* vec, int hdrSize, in VirtioNetHeader hdr)
    {
        if (vec->Len >= (uint)hdrSize)
        {
            // SAFETY: the first piece is writable guest memory of at least hdrSize bytes.
            byte* dst = vec->Host;
            Unsafe.WriteUnaligned(dst, Unsafe.As<VirtioNetHeader, ulong>(ref Unsafe.AsRef(in hdr)));
            ref byte tail = ref Unsafe.Add(ref Unsafe.As<VirtioNetHeader, byte>(ref Unsafe.AsRef(in hdr)), 8);
            if (hdrSize == VirtioNetHeader.MrgSize) Unsafe.WriteUnaligned(dst + 8, Unsafe.As<byte, uint>(ref tail));
            else Unsafe.WriteUnaligned(dst + 8, Unsafe.As<byte, ushort>(ref tail));
            return;
        }
        WriteSplit(vec, hdrSize, hdr);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void WriteSplit(BufPiece* vec, int hdrSize, VirtioNetHeader hdr)
    {
        byte* src = (byte*)&hdr;
        int remain = hdrSize;
        for (int i = 0; remain > 0; i++)
        {
            int n = (int)Math.Min((uint)remain, vec[i].Len);
            // SAFETY: the caller checked the pieces hold hdrSize bytes; n fits this piece.
            Unsafe.CopyBlockUnaligned(vec[i].Host, src, (uint)n);
            src += n;
            remain -= n;
        }
    }

    /// <summary>Mbuf TX offload requests that make an enqueued packet's header more than zeros (see <see cref="FromMbuf"/>).</summary>
    public const ulong MbufOffloadRequests =
        MbufOffload.TxL4Mask | MbufOffload.TxTcpSeg | MbufOffload.TxUdpSeg | MbufOffload.TxIpCksum;

    /// <summary>
    /// Enqueue fast paths: the header of a packet without offload requests in one buffer, written straight into
    /// guest memory: all zero, but num_buffers = 1 in a 12-byte (mergeable / VERSION_1) header.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WritePlain(byte* dst, uint hdrSize)
    {
        // SAFETY: the caller checked dst is writable guest memory of at least hdrSize bytes.
        *(ulong*)dst = 0;
        if (hdrSize == VirtioNetHeader.MrgSize) *(uint*)(dst + 8) = 1u << 16;
        else *(ushort*)(dst + 8) = 0;
    }

    /// <summary>True when the header asks for nothing (the common case: no checksum, no GSO).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsPlain(in VirtioNetHeader hdr) => (hdr.Flags | hdr.GsoType) == 0;

    /// <summary>
    /// Checks a TX header against the packet length (SECURITY.md 15): NEEDS_CSUM with the checksum field beyond the
    /// packet, or a GSO type with gso_size 0 or unknown, makes the packet invalid.
    /// </summary>
    public static DropReason Validate(in VirtioNetHeader hdr, uint pktLen)
    {
        if ((hdr.Flags & VirtioNetHeader.FlagNeedsCsum) != 0 && (ulong)hdr.CsumStart + hdr.CsumOffset + 2 > pktLen)
            return DropReason.BadNetHeader;
        if (hdr.GsoType != VirtioNetHeader.GsoNone)
        {
            if (hdr.GsoSize == 0) return DropReason.BadNetHeader;
            switch (hdr.GsoType & ~VirtioNetHeader.GsoEcn)
            {
                case VirtioNetHeader.GsoTcpV4:
                case VirtioNetHeader.GsoTcpV6:
                case VirtioNetHeader.GsoUdp:
                    break;
                default:
                    return DropReason.BadNetHeader;
            }
        }
        return DropReason.None;
    }

    /// <summary>
    /// Dequeue: turns a validated, non-plain TX header into mbuf TX offload requests (DPDK's
    /// vhost_dequeue_offload_legacy). The packet headers are parsed from the mbuf's first segment; when they do not
    /// match the request (wrong protocol, truncated headers) the offloads are cleared as DPDK does and the packet is
    /// still delivered.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ApplyToMbuf(in VirtioNetHeader hdr, Mbuf* m)
    {
        if (!ParseHeaders(m, out byte l4Proto, out int l2, out int l3, out ulong ipFlag)) return;
        ulong flags = ipFlag;
        int l4 = 0, tso = 0;
        if (hdr.Flags == VirtioNetHeader.FlagNeedsCsum)
        {
            if (hdr.CsumStart != l2 + l3) { Clear(m); return; }
            switch (hdr.CsumOffset)
            {
                case 16 when l4Proto == ProtoTcp: flags |= MbufOffload.TxTcpCksum; break;
                case 6 when l4Proto == ProtoUdp: flags |= MbufOffload.TxUdpCksum; break;
                case 8 when l4Proto == ProtoSctp: flags |= MbufOffload.TxSctpCksum; break;
                default: Clear(m); return;
            }
        }
        if (hdr.GsoType != VirtioNetHeader.GsoNone)
        {
            switch (hdr.GsoType & ~VirtioNetHeader.GsoEcn)
            {
                case VirtioNetHeader.GsoTcpV4:
                case VirtioNetHeader.GsoTcpV6:
                    if (l4Proto != ProtoTcp) { Clear(m); return; }
                    int tcpLen = (m->Data[l2 + l3 + 12] & 0xF0) >> 2;
                    if (m->DataLen < l2 + l3 + tcpLen) { Clear(m); return; }
                    flags |= MbufOffload.TxTcpSeg;
                    l4 = tcpLen;
                    tso = hdr.GsoSize;
                    break;
                case VirtioNetHeader.GsoUdp:
                    if (l4Proto != ProtoUdp) { Clear(m); return; }
                    flags |= MbufOffload.TxUdpSeg;
                    l4 = 8;
                    tso = hdr.GsoSize;
                    break;
                default:
                    Clear(m);
                    return;
            }
        }
        m->OlFlags |= flags;
        m->TxOffload = MbufOffload.TxOffload(l2, l3, l4, tso);
    }

    private static void Clear(Mbuf* m)
    {
        m->OlFlags = 0;
        m->TxOffload = 0;
    }

    /// <summary>DPDK's parse_headers: Ethernet (one VLAN tag), IPv4/IPv6, then a TCP/UDP/SCTP header in the first segment.</summary>
    private static bool ParseHeaders(Mbuf* m, out byte l4Proto, out int l2, out int l3, out ulong ipFlag)
    {
        l4Proto = 0;
        l3 = 0;
        ipFlag = 0;
        int len = m->DataLen;
        byte* p = m->Data;
        l2 = 14;
        if (len < l2) return false;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(new ReadOnlySpan<byte>(p + 12, 2));
        if (etherType == EtherTypeVlan)
        {
            if (len < 18) return false;
            l2 = 18;
            etherType = BinaryPrimitives.ReadUInt16BigEndian(new ReadOnlySpan<byte>(p + 16, 2));
        }
        if (etherType == EtherTypeIpv4)
        {
            if (len < l2 + 20) return false;
            l3 = (p[l2] & 0x0F) * 4;
            if (l3 < 20 || len < l2 + l3) return false;
            ipFlag = MbufOffload.TxIpv4;
            l4Proto = p[l2 + 9];
        }
        else if (etherType == EtherTypeIpv6)
        {
            if (len < l2 + 40) return false;
            l3 = 40;
            ipFlag = MbufOffload.TxIpv6;
            l4Proto = p[l2 + 6];
        }
        else return false;
        int need = l4Proto switch { ProtoTcp => 20, ProtoUdp => 8, ProtoSctp => 12, _ => -1 };
        return need >= 0 && len >= l2 + l3 + need;
    }

    /// <summary>
    /// Enqueue: the header for an mbuf (DPDK's virtio_enqueue_offload). Plain packets (no offload flags) get an
    /// all-zero header; <paramref name="numBuffers"/> goes into the mergeable field (ignored for 10-byte headers).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FromMbuf(Mbuf* m, ushort numBuffers, out VirtioNetHeader hdr)
    {
        hdr = default;
        hdr.NumBuffers = numBuffers;
        if ((m->OlFlags & MbufOffloadRequests) != 0) FromOffloads(m, ref hdr);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FromOffloads(Mbuf* m, ref VirtioNetHeader hdr)
    {
        ulong fl = m->OlFlags;
        ulong tx = m->TxOffload;
        int l2 = MbufOffload.L2Len(tx), l3 = MbufOffload.L3Len(tx), l4 = MbufOffload.L4Len(tx);
        ulong csumL4 = fl & MbufOffload.TxL4Mask;
        if ((fl & MbufOffload.TxTcpSeg) != 0) csumL4 = MbufOffload.TxTcpCksum;
        else if ((fl & MbufOffload.TxUdpSeg) != 0 && csumL4 == 0) csumL4 = MbufOffload.TxUdpCksum;
        // Pseudo-header checksum (and the IPv4 header checksum) in the host's mbuf, as the virtio spec requires
        // for NEEDS_CSUM. A packet whose headers are not in the first segment gets no offload at all.
        if (!OffloadChecksum.Prepare(m)) return;
        if (csumL4 != 0)
        {
            hdr.Flags = VirtioNetHeader.FlagNeedsCsum;
            hdr.CsumStart = (ushort)(l2 + l3);
            hdr.CsumOffset = OffloadChecksum.L4CsumOffset(csumL4);
        }
        if ((fl & MbufOffload.TxTcpSeg) != 0)
        {
            hdr.GsoType = (fl & MbufOffload.TxIpv4) != 0 ? VirtioNetHeader.GsoTcpV4 : VirtioNetHeader.GsoTcpV6;
            hdr.GsoSize = (ushort)MbufOffload.TsoSegSize(tx);
            hdr.HdrLen = (ushort)(l2 + l3 + l4);
        }
        else if ((fl & MbufOffload.TxUdpSeg) != 0)
        {
            hdr.GsoType = VirtioNetHeader.GsoUdp;
            hdr.GsoSize = (ushort)MbufOffload.TsoSegSize(tx);
            hdr.HdrLen = (ushort)(l2 + l3 + l4);
        }
    }
}
