using HotPath.Engine.Datapath;
using HotPath.Engine.Stats;
using HotPath.Fuzz.Core;
using HotPath.Fuzz.Memory;

namespace HotPath.Fuzz.Split;

/// <summary>The packet rules both ring models share: what a TX chain's bytes become, and how a good packet is counted.</summary>
internal static class PacketRules
{
    /// <summary>A valid TX chain of <paramref name="total"/> bytes: its packet (after the header), or why it is dropped.</summary>
    public static (DropReason, byte[]?) TxPacket(GuestImage m, IReadOnlyList<Piece> pieces, ulong total, int hdr, bool offloads)
    {
        if (total <= (ulong)hdr) return (DropReason.ChainTooShort, null);
        ulong pktLen = total - (ulong)hdr;
        if (pktLen > DatapathLimits.MaxPacketBytes) return (DropReason.PacketTooLarge, null);
        byte[] header = ChainWalkModel.Gather(m, pieces, 0, (ulong)hdr);
        DropReason bad = NetHeaderModel.CheckTx(header, pktLen, offloads);
        if (bad != DropReason.None) return (bad, null);
        return (DropReason.None, ChainWalkModel.Gather(m, pieces, (ulong)hdr, pktLen));
    }

    /// <summary>Counts a good packet of <paramref name="len"/> bytes whose first mbuf holds <paramref name="firstSegment"/>.</summary>
    public static void CountPacket(ulong[] counters, string ring, ReadOnlySpan<byte> firstSegment, ulong len)
    {
        Coverage.Hit($"{ring}.packets");
        counters[VringStats.GoodPackets]++;
        counters[VringStats.GoodBytes] += len;
        counters[VringStats.SizeBins + VringStats.SizeBin((uint)len)]++;
        if (firstSegment.Length >= 6 && (firstSegment[0] & 1) != 0)
            counters[firstSegment[..6].IndexOfAnyExcept((byte)0xFF) < 0 ? VringStats.Broadcast : VringStats.Multicast]++;
    }
}
