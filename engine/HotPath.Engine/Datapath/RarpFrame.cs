using HotPath.Engine.Buffers;

namespace HotPath.Engine.Datapath;

/// <summary>
/// The RARP broadcast a dequeue burst injects after SEND_RARP (DPDK's rte_net_make_rarp_packet): it looks as if the
/// migrated guest sent it, so switches learn the guest's MAC on its new port. 64 bytes: Ethernet broadcast from the
/// MAC, ethertype RARP (0x8035), an Ethernet/IPv4 "reverse request" with the MAC as sender and target hardware
/// address and zero IP addresses, zero padding (DPDK leaves the padding as the mbuf had it).
/// </summary>
internal static unsafe class RarpFrame
{
    public const int Length = 64;
    private const ushort EtherTypeRarp = 0x8035, EtherTypeIpv4 = 0x0800, HardwareEthernet = 1, OpReverseRequest = 3;

    /// <summary>Fills <paramref name="m"/> (a fresh mbuf with room for 64 bytes) with the announcement of <paramref name="mac"/>.</summary>
    public static void Write(Mbuf* m, ReadOnlySpan<byte> mac)
    {
        var f = new Span<byte>(m->Data, Length);
        f.Clear();
        f[..6].Fill(0xFF);                               // destination: broadcast
        mac[..6].CopyTo(f[6..]);                         // source
        BigEndian(f[12..], EtherTypeRarp);
        Span<byte> a = f[14..];                          // struct arp_hdr
        BigEndian(a, HardwareEthernet);
        BigEndian(a[2..], EtherTypeIpv4);
        a[4] = 6;                                        // hardware address length
        a[5] = 4;                                        // protocol address length
        BigEndian(a[6..], OpReverseRequest);
        mac[..6].CopyTo(a[8..]);                         // sender hardware address (sender IP 0.0.0.0 follows)
        mac[..6].CopyTo(a[18..]);                        // target hardware address (target IP 0.0.0.0 follows)
        m->DataLen = Length;
        m->PktLen = Length;
    }

    private static void BigEndian(Span<byte> at, ushort value)
    {
        at[0] = (byte)(value >> 8);
        at[1] = (byte)value;
    }
}
