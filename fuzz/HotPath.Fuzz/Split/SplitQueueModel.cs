using HotPath.Engine.Stats;
using HotPath.Fuzz.Core;
using HotPath.Fuzz.Memory;

namespace HotPath.Fuzz.Split;

/// <summary>What the model expects one burst to do.</summary>
internal sealed class BurstExpectation
{
    public required ExpectedMemory Image { get; init; }
    public int Returned;
    /// <summary>Dequeue: the packets, in order.</summary>
    public readonly List<byte[]> Packets = new();
    /// <summary>Ranges written by more than one write of the burst (their final bytes depend on the write order).</summary>
    public readonly List<(ulong Gpa, ulong Len)> Contested = new();
    /// <summary>Everything the device may write in this burst (used ring and the buffers it fills).</summary>
    public readonly List<(ulong Gpa, ulong Len)> Writes = new();
    /// <summary>What the model decided, chain by chain (for failure messages).</summary>
    public readonly List<string> Trace = new();
}

/// <summary>
/// Reference model of one split virtqueue on the device side (virtio 1.2 section 2.7, DPDK's virtio_dev_tx_split and
/// virtio_dev_rx_split semantics as HotPath documents them), written for clarity, not speed: free-running avail and
/// used counters, a broken flag, and the per-vring counters. A burst reads everything from the memory image taken
/// before it and produces the image expected after it.
/// </summary>
internal sealed class SplitQueueModel : QueueModel
{
    private readonly ulong _avail, _used;
    private readonly bool _eventIdx;

    public ushort LastAvail { get; private set; }
    public ushort LastUsed { get; private set; }
    public bool Broken { get; private set; }
    private bool _flagsWritten;

    public SplitQueueModel(uint size, ushort start, ulong desc, ulong avail, ulong used, int hdr, SplitFeatures f)
        : base("split", size, desc, hdr, f)
    {
        _avail = avail;
        _used = used;
        _eventIdx = (f & SplitFeatures.EventIdx) != 0;
        LastAvail = LastUsed = start;
    }

    private int VecCap => (int)QueueSize + SplitScratchExtraPieces;

    /// <summary>Pieces a chain may take beyond one per descriptor (the split scratch's buffer vector).</summary>
    public const int SplitScratchExtraPieces = 64;

    private ushort AvailEntry(GuestImage m, ushort position) => m.U16(_avail + 4 + 2UL * (position & (QueueSize - 1)));

    /// <summary>
    /// Burst start: kick suppression in used.flags (first burst only), then the avail index. Returns how many chains
    /// are pending, or null when the burst ends here (ring broken now, or nothing to do).
    /// </summary>
    private uint? Begin(GuestImage before, BurstExpectation e)
    {
        if (!_flagsWritten)
        {
            e.Image.WriteU16(_used, _eventIdx ? (ushort)0 : (ushort)1);
            e.Writes.Add((_used, 2));
            _flagsWritten = true;
        }
        ushort availIdx = before.U16(_avail + 2);
        uint pending = (ushort)(availIdx - LastAvail);
        if (pending > QueueSize)
        {
            Broken = true;
            Drop(DropReason.RingBroken);
            e.Trace.Add($"avail.idx {availIdx} is {pending} ahead of {LastAvail}: ring broken");
            return null;
        }
        return pending == 0 ? null : pending;
    }

    /// <summary>Writes the used entries and the new used index into the expected image.</summary>
    private void Publish(BurstExpectation e, List<(ushort Head, uint Len)> used)
    {
        if (used.Count == 0) return;
        foreach ((ushort head, uint len) in used)
        {
            ulong at = _used + 4 + 8UL * (LastUsed & (QueueSize - 1));
            e.Image.WriteU32(at, head);
            e.Image.WriteU32(at + 4, len);
            e.Writes.Add((at, 8));
            LastUsed++;
        }
        e.Image.WriteU16(_used + 2, LastUsed);
        e.Writes.Add((_used + 2, 2));
    }

    // ------------------------------------------------------------------ dequeue (guest TX)

    /// <summary>A dequeue burst of at most <paramref name="count"/> packets (mbufs of <paramref name="mbufRoom"/> bytes).</summary>
    public override BurstExpectation Dequeue(GuestImage before, int count, int mbufRoom)
    {
        var e = new BurstExpectation { Image = new ExpectedMemory(before) };
        if (Broken || count == 0) return e;
        if (Begin(before, e) is not uint pending) return e;
        uint n = Math.Min((uint)count, pending);
        var used = new List<(ushort, uint)>();
        for (uint k = 0; k < n; k++)
        {
            ushort head = AvailEntry(before, (ushort)(LastAvail + k));
            used.Add((head, 0));   // every consumed chain comes back used with length 0: the device wrote nothing
            (DropReason r, byte[]? pkt) = TxPacket(before, head);
            TxChain(e, $"tx head {head}", r, pkt, mbufRoom);
        }
        Publish(e, used);
        LastAvail += (ushort)n;
        e.Returned = e.Packets.Count;
        return e;
    }

    /// <summary>One TX chain: its packet (after the header), or why it is dropped.</summary>
    private (DropReason, byte[]?) TxPacket(GuestImage m, ushort head)
    {
        ChainWalk w = ChainWalkModel.Walk(m, DescTable, QueueSize, head, writable: false, 0, VecCap);
        if (!w.Ok) return (w.Reason, null);
        return PacketRules.TxPacket(m, w.Pieces, w.Total, HeaderSize, TxOffloads);
    }

    // ------------------------------------------------------------------ enqueue (guest RX)

    /// <summary>An enqueue burst of <paramref name="packets"/>; <paramref name="firstSegment"/> is each one's first mbuf length.</summary>
    public override BurstExpectation Enqueue(GuestImage before, IReadOnlyList<byte[]> packets, IReadOnlyList<int> firstSegment)
    {
        var e = new BurstExpectation { Image = new ExpectedMemory(before) };
        if (Broken || packets.Count == 0) return e;
        if (Begin(before, e) is not uint pending) return e;
        ushort availIdx = (ushort)(LastAvail + pending);
        var used = new List<(ushort, uint)>();
        var writes = new List<(ulong Gpa, ulong Len)>();
        ushort last = LastAvail;
        int done = 0;
        for (; done < packets.Count; done++)
        {
            if (last == availIdx) break;
            byte[] pkt = packets[done];
            bool delivered = MrgRxbuf
                ? Mergeable(before, e, pkt, ref last, availIdx, used, writes)
                : Single(before, e, pkt, ref last, availIdx, used, writes);
            if (!delivered) break;
            CountPacket(pkt.AsSpan(0, Math.Min(pkt.Length, firstSegment[done])), (ulong)pkt.Length);
        }
        MarkContested(e, writes);
        Publish(e, used);
        LastAvail = last;
        e.Returned = done;
        return e;
    }

    /// <summary>Without MRG_RXBUF: bad chains are dropped until one that holds the header; it takes the packet if it
    /// fits, else the burst stops there (the buffer is left for a smaller packet).</summary>
    private bool Single(GuestImage m, BurstExpectation e, byte[] pkt, ref ushort last, ushort availIdx,
        List<(ushort, uint)> used, List<(ulong, ulong)> writes)
    {
        while (last != availIdx)
        {
            ushort head = AvailEntry(m, last);
            ChainWalk w = ChainWalkModel.Walk(m, DescTable, QueueSize, head, writable: true, 0, VecCap);
            switch (PacketRules.Single(w.Reason, w.Total, pkt.Length, HeaderSize, out DropReason r))
            {
                case RxFit.Fits:
                    used.Add((head, PacketRules.WriteRx(e, w.Pieces, HeaderSize, 1, pkt, writes)));
                    e.Trace.Add($"rx head {head}: {pkt.Length}-byte packet");
                    last++;
                    return true;
                case RxFit.TooSmall:
                    return RxTooSmall(e, $"rx head {head}", w.Total, pkt.Length);
            }
            Dropped(e, $"rx head {head}", r);
            used.Add((head, 0));
            last++;
        }
        return false;
    }

    /// <summary>
    /// MRG_RXBUF: the packet takes chains until it fits (each must hold at least a header). Bad chains before its
    /// first buffer are dropped for good; bad chains between its buffers are dropped only if the packet commits and go
    /// after its own used entries. Without enough chains nothing of the packet is consumed and the burst stops.
    /// </summary>
    private bool Mergeable(GuestImage m, BurstExpectation e, byte[] pkt, ref ushort last, ushort availIdx,
        List<(ushort Head, uint Len)> used, List<(ulong, ulong)> writes)
    {
        ulong remaining = (ulong)pkt.Length + (ulong)HeaderSize;
        int markUsed = used.Count;
        ushort markAvail = last;
        var pieces = new List<Piece>();
        var mine = new List<(ushort Head, uint Len)>();
        var between = new List<(ushort Head, DropReason Reason)>();
        while (remaining != 0)
        {
            if (last == availIdx)
            {
                e.Trace.Add($"rx: not enough buffers for a {pkt.Length}-byte packet: nothing consumed, burst ends");
                Coverage.Hit("split.mergeable-rollback");
                used.RemoveRange(markUsed, used.Count - markUsed);
                last = markAvail;
                return false;
            }
            ushort head = AvailEntry(m, last);
            ChainWalk w = ChainWalkModel.Walk(m, DescTable, QueueSize, head, writable: true, pieces.Count, VecCap);
            DropReason r = w.Reason;
            if (r == DropReason.None && w.Total < (ulong)HeaderSize) r = DropReason.ChainTooShort;
            last++;
            if (r != DropReason.None)
            {
                if (mine.Count == 0)
                {
                    Dropped(e, $"rx head {head}", r);
                    used.Add((head, 0));
                    markUsed = used.Count;
                    markAvail = last;
                }
                else between.Add((head, r));
                continue;
            }
            pieces.AddRange(w.Pieces);
            uint len = (uint)Math.Min(w.Total, remaining);
            mine.Add((head, len));
            remaining -= len;
        }
        used.AddRange(mine);
        foreach ((ushort head, DropReason r) in between)
        {
            Dropped(e, $"rx head {head} (between the buffers of a packet)", r);
            used.Add((head, 0));
        }
        PacketRules.WriteRx(e, pieces, HeaderSize, mine.Count, pkt, writes);
        e.Trace.Add($"rx: {pkt.Length}-byte packet in {mine.Count} buffer(s) ({string.Join(",", mine.Select(x => x.Head))})");
        if (mine.Count > 1) Coverage.Hit("split.mergeable-multi-buffer");
        if (between.Count > 0) Coverage.Hit("split.mergeable-bad-between");
        return true;
    }

    /// <summary>Records where writes of this burst overlap (their final bytes depend on the device's write order).</summary>
    internal static void MarkContested(BurstExpectation e, List<(ulong Gpa, ulong Len)> writes)
    {
        e.Writes.AddRange(writes);
        var sorted = writes.Where(w => w.Len > 0).OrderBy(w => w.Gpa).ToList();
        ulong reach = 0;
        for (int i = 0; i < sorted.Count; i++)
        {
            (ulong gpa, ulong len) = sorted[i];
            if (i > 0 && gpa < reach)
            {
                e.Contested.Add((gpa, Math.Min(reach, gpa + len) - gpa));
                Coverage.Hit("split.overlapping-writes");
            }
            reach = Math.Max(reach, gpa + len);
        }
    }
}
