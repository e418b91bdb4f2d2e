using System.Buffers.Binary;

namespace HotPath.Frontend.Cli;

/// <summary>The frames hp-frontend transmits: Ethernet/IPv4/UDP, as hp-fwd's txonly frames.</summary>
internal static class Frames
{
    /// <summary>A frame of <paramref name="length"/> bytes (&gt;= 42): 02:00:00:00:00:02 → 00:01:02:03:04:05,
    /// 198.18.0.2:9 → 198.18.0.1:9, valid IPv4 header checksum, no UDP checksum, a counting payload.</summary>
    public static byte[] Udp(int length)
    {
        var f = new byte[length];
        byte[] dst = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05], src = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
        dst.CopyTo(f, 0);
        src.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        Span<byte> ip = f.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(length - 14));
        ip[8] = 64;
        ip[9] = 17;
        byte[] from = [198, 18, 0, 2], to = [198, 18, 0, 1];
        from.CopyTo(ip[12..]);
        to.CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip));
        Span<byte> udp = f.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(udp, 9);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 9);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(length - 34));
        for (int i = 42; i < length; i++) f[i] = (byte)i;
        return f;
    }

    private static ushort Checksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < header.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
