using System.Buffers.Binary;
using HotPath.Engine.Buffers;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Checksum preparation for packets the host hands to the guest with offload requests (DPDK's
/// rte_net_intel_cksum_prepare as virtio_enqueue_offload uses it): with NEEDS_CSUM the L4 checksum field must
/// hold the pseudo-header sum, and an IPv4 header checksum cannot be left to the guest. Works on the host's own
/// mbuf (never guest memory); headers must lie in the first segment or nothing is touched.
/// Cold path: only packets with offload flags get here.
/// </summary>
internal static unsafe class OffloadChecksum
{
    private const byte ProtoTcp = 6, ProtoUdp = 17;
    private const int TcpCsumOffset = 16, UdpCsumOffset = 6, SctpCsumOffset = 8;

    /// <summary>Offset of the checksum field in the L4 header for an mbuf's L4 checksum request.</summary>
    public static ushort L4CsumOffset(ulong l4Request) => l4Request switch
    {
        MbufOffload.TxTcpCksum => TcpCsumOffset,
        MbufOffload.TxUdpCksum => UdpCsumOffset,
        _ => SctpCsumOffset,
    };

    /// <summary>
    /// Writes the pseudo-header checksum into the L4 header and, with TX_IP_CKSUM, the full IPv4 header checksum.
    /// Returns false (and touches nothing) when the headers the flags describe are not inside the first segment.
    /// </summary>
    public static bool Prepare(Mbuf* m)
    {
        ulong fl = m->OlFlags;
        ulong tx = m->TxOffload;
        int l2 = MbufOffload.L2Len(tx), l3 = MbufOffload.L3Len(tx), l4 = MbufOffload.L4Len(tx);
        if (m->DataLen < l2 + l3 + Math.Max(l4, 8)) return false;
        byte* ip = m->Data + l2;
        bool seg = (fl & (MbufOffload.TxTcpSeg | MbufOffload.TxUdpSeg)) != 0;
        ulong l4Request = fl & MbufOffload.TxL4Mask;
        if ((fl & MbufOffload.TxTcpSeg) != 0) l4Request = MbufOffload.TxTcpCksum;
        if ((fl & MbufOffload.TxUdpSeg) != 0) l4Request = MbufOffload.TxUdpCksum;

        if ((fl & MbufOffload.TxIpv4) != 0)
        {
            if (l3 < 20) return false;
            if ((fl & MbufOffload.TxIpCksum) != 0)
            {
                *(ushort*)(ip + 10) = 0;
                *(ushort*)(ip + 10) = (ushort)~Fold(Sum(ip, l3));
            }
            if (l4Request is MbufOffload.TxTcpCksum or MbufOffload.TxUdpCksum)
            {
                uint l4Len = seg ? 0u : (uint)Math.Max(0, BinaryPrimitives.ReadUInt16BigEndian(new ReadOnlySpan<byte>(ip + 2, 2)) - l3);
                ulong sum = Sum(ip + 12, 8) + HostToNet16((ushort)ip[9]) + HostToNet16((ushort)l4Len);
                WriteL4(ip + l3, l4Request, (ushort)Fold(sum));
            }
        }
        else if ((fl & MbufOffload.TxIpv6) != 0)
        {
            if (l3 < 40) return false;
            if (l4Request is MbufOffload.TxTcpCksum or MbufOffload.TxUdpCksum)
            {
                uint l4Len = seg ? 0u : BinaryPrimitives.ReadUInt16BigEndian(new ReadOnlySpan<byte>(ip + 4, 2));
                ulong sum = Sum(ip + 8, 32) + HostToNet16((ushort)ip[6]) + HostToNet16((ushort)l4Len);
                WriteL4(ip + l3, l4Request, (ushort)Fold(sum));
            }
        }
        return true;
    }

    private static void WriteL4(byte* l4, ulong request, ushort pseudo)
    {
        if (request == MbufOffload.TxTcpCksum) *(ushort*)(l4 + TcpCsumOffset) = pseudo;
        else if (request == MbufOffload.TxUdpCksum) *(ushort*)(l4 + UdpCsumOffset) = pseudo;
    }

    /// <summary>One's-complement sum of <paramref name="len"/> bytes in network order, unfolded.</summary>
    private static ulong Sum(byte* p, int len)
    {
        ulong sum = 0;
        int i = 0;
        for (; i + 1 < len; i += 2) sum += *(ushort*)(p + i);
        if (i < len) sum += p[i];   // odd tail: the byte is the high half in network order, low in memory order
        return sum;
    }

    private static uint Fold(ulong sum)
    {
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (uint)sum;
    }

    private static ushort HostToNet16(ushort v) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v;
}
