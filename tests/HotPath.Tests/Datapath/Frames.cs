using System.Buffers.Binary;

namespace HotPath.Tests.Datapath;

/// <summary>Minimal Ethernet/IPv4/IPv6 + TCP/UDP frames for offload tests, and an independent checksum.</summary>
internal static class Frames
{
    public const int EthLen = 14, Ipv4Len = 20, Ipv6Len = 40, TcpLen = 20, UdpLen = 8;

    public static byte[] Ipv4(byte proto, int payload)
    {
        int l4 = proto == 6 ? TcpLen : UdpLen;
        var f = new byte[EthLen + Ipv4Len + l4 + payload];
        Payload.Fill(f.AsSpan(EthLen + Ipv4Len + l4), 77);
        f[0] = 0x02; f[6] = 0x02; f[11] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        Span<byte> ip = f.AsSpan(EthLen);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(Ipv4Len + l4 + payload));
        ip[8] = 64;
        ip[9] = proto;
        ip[12] = 10; ip[15] = 1; ip[16] = 10; ip[19] = 2;
        if (proto == 6) ip[Ipv4Len + 12] = 5 << 4;   // TCP data offset: 20 bytes
        else BinaryPrimitives.WriteUInt16BigEndian(ip[(Ipv4Len + 4)..], (ushort)(UdpLen + payload));
        return f;
    }

    public static byte[] Ipv6Tcp(int payload)
    {
        var f = new byte[EthLen + Ipv6Len + TcpLen + payload];
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x86DD);
        Span<byte> ip = f.AsSpan(EthLen);
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(TcpLen + payload));
        ip[6] = 6;
        ip[7] = 64;
        ip[8 + 15] = 1; ip[24 + 15] = 2;
        ip[Ipv6Len + 12] = 5 << 4;
        return f;
    }

    /// <summary>The IPv4 pseudo-header sum (folded, not complemented) for an L4 length, as a big-endian value.</summary>
    public static ushort Ipv4PseudoSum(ReadOnlySpan<byte> ip, int l4Len)
    {
        uint sum = 0;
        for (int i = 12; i < 20; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        sum += ip[9];
        sum += (uint)l4Len;
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>RFC 1071 checksum over a header (0 when the stored checksum is right).</summary>
    public static ushort Verify(ReadOnlySpan<byte> bytes)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < bytes.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(bytes[i..]);
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
