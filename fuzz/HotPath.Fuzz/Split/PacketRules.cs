using HotPath.Engine.Datapath;
using HotPath.Engine.Stats;
using HotPath.Fuzz.Core;
using HotPath.Fuzz.Memory;

namespace HotPath.Fuzz.Split;

/// <summary>What one RX chain does with a packet without MRG_RXBUF.</summary>
internal enum RxFit
{
    /// <summary>The chain holds header and packet: it takes it.</summary>
    Fits,
    /// <summary>The chain holds a header but not the packet: the burst ends there and the chain stays for a smaller one.</summary>
    TooSmall,
    /// <summary>The chain is dropped (bad, or too short for a header).</summary>
    Dropped,
}

/// <summary>
/// The packet rules both ring models share: what a TX chain's bytes become, what an RX chain does with a packet and
/// what it then holds, and how a good packet is counted.
/// </summary>
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

    /// <summary>
    /// Without MRG_RXBUF, what a walked RX chain (<paramref name="walked"/>: its walk's verdict, <paramref name="total"/>
    /// bytes) does with a packet of <paramref name="pktLen"/> bytes; <paramref name="reason"/> says why it is dropped.
    /// </summary>
    public static RxFit Single(DropReason walked, ulong total, int pktLen, int hdr, out DropReason reason)
    {
        reason = walked;
        if (walked != DropReason.None) return RxFit.Dropped;
        if (total >= (ulong)pktLen + (ulong)hdr) return RxFit.Fits;
        if (total >= (ulong)hdr) return RxFit.TooSmall;
        reason = DropReason.ChainTooShort;
        return RxFit.Dropped;
    }

    /// <summary>
    /// Writes an RX packet into <paramref name="pieces"/> of the expected image: a clean header saying
    /// <paramref name="buffers"/> buffers, then <paramref name="pkt"/>. Records the writes; returns the bytes written
    /// (the used length).
    /// </summary>
    public static uint WriteRx(BurstExpectation e, IReadOnlyList<Piece> pieces, int hdr, int buffers, byte[] pkt, List<(ulong, ulong)> writes)
    {
        byte[] bytes = [.. NetHeaderModel.Rx(hdr, buffers), .. pkt];
        writes.AddRange(ChainWalkModel.Scatter(e.Image, pieces, bytes));
        return (uint)bytes.Length;
    }
}
