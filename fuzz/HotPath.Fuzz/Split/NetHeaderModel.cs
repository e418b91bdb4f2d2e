using HotPath.Engine.Stats;

namespace HotPath.Fuzz.Split;

/// <summary>
/// The virtio-net header rules the model applies (virtio 1.2 section 5.1.6, SECURITY.md case 15): a TX header asks for
/// something when its flags or gso_type are non-zero; then, with host offloads negotiated, NEEDS_CSUM must place the
/// 2-byte checksum inside the packet and a GSO type must be TCPv4, TCPv6 or UDP (ECN bit allowed) with gso_size > 0.
/// RX headers the device writes are all zero but num_buffers (12-byte headers only).
/// </summary>
internal static class NetHeaderModel
{
    public static DropReason CheckTx(ReadOnlySpan<byte> hdr, ulong pktLen, bool offloads)
    {
        byte flags = hdr[0], gsoType = hdr[1];
        if (!offloads || (flags | gsoType) == 0) return DropReason.None;
        ushort gsoSize = BitConverter.ToUInt16(hdr[4..]);
        ushort csumStart = BitConverter.ToUInt16(hdr[6..]), csumOffset = BitConverter.ToUInt16(hdr[8..]);
        if ((flags & 1) != 0 && (ulong)csumStart + csumOffset + 2 > pktLen) return DropReason.BadNetHeader;
        if (gsoType != 0)
        {
            if (gsoSize == 0) return DropReason.BadNetHeader;
            if ((gsoType & 0x7F) is not (1 or 3 or 4)) return DropReason.BadNetHeader;
        }
        return DropReason.None;
    }

    /// <summary>The header the device writes in front of a plain packet spread over <paramref name="buffers"/> buffers.</summary>
    public static byte[] Rx(int hdrSize, int buffers)
    {
        var h = new byte[hdrSize];
        if (hdrSize == 12) BitConverter.TryWriteBytes(h.AsSpan(10), (ushort)buffers);
        return h;
    }
}
