using System.Buffers.Binary;
using HotPath.Engine.Buffers;

namespace HotPath.Engine.Datapath;

/// <summary>
/// The RARP announcement a dequeue burst injects after SEND_RARP (DPDK's rte_net_make_rarp_packet): after a live
/// migration it makes the switches in front of the host learn where the guest's MAC address now lives.
/// </summary>
internal static unsafe class RarpPacket
{
    /// <summary>DPDK's RARP_PKT_SIZE.</summary>
    public const int Length = 64;
    private const ushort EtherTypeRarp = 0x8035, EtherTypeIpv4 = 0x0800, HardwareEther = 1, OpReverseRequest = 3;

    /// <summary>A RARP request for <paramref name="mac"/> in an mbuf from <paramref name="pool"/>, or null.</summary>
    public static Mbuf* Make(MempoolHeader* pool, ReadOnlySpan<byte> mac)
    {
        if (mac.Length != 6) return null;
        Mbuf* m = MbufOps.Alloc(pool);
        if (m == null) return null;
        if (m->BufLen - m->DataOff < Length)
        {
            MbufOps.Free(m);
            return null;
        }
        var p = new Span<byte>(m->Data, Length);
        p.Clear();
        p[..6].Fill(0xFF);                                               // destination: broadcast
        mac.CopyTo(p[6..]);                                              // source: the guest
        BinaryPrimitives.WriteUInt16BigEndian(p[12..], EtherTypeRarp);
        Span<byte> rarp = p[14..];
        BinaryPrimitives.WriteUInt16BigEndian(rarp, HardwareEther);
        BinaryPrimitives.WriteUInt16BigEndian(rarp[2..], EtherTypeIpv4);
        rarp[4] = 6;                                                     // hardware address length
        rarp[5] = 4;                                                     // protocol address length
        BinaryPrimitives.WriteUInt16BigEndian(rarp[6..], OpReverseRequest);
        mac.CopyTo(rarp[8..]);                                           // sender hardware address
        mac.CopyTo(rarp[18..]);                                          // target hardware address (IPs stay 0)
        m->DataLen = Length;
        m->PktLen = Length;
        return m;
    }
}
