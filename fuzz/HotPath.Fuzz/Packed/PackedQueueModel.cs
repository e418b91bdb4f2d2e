using HotPath.Engine.Datapath;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Fuzz.Core;
using HotPath.Fuzz.Memory;
using HotPath.Fuzz.Split;

namespace HotPath.Fuzz.Packed;

/// <summary>What walking one packed chain gave: reason, bytes, pieces, descriptors it covers and its buffer id.</summary>
internal sealed record PackedChainWalk(DropReason Reason, ulong Total, List<Piece> Pieces, uint Descs, ushort Id)
{
    public bool Ok => Reason == DropReason.None;
}

/// <summary>
/// Reference model of one packed virtqueue on the device side (virtio 1.2 section 2.8, DPDK's virtio_dev_tx_packed and
/// virtio_dev_rx_packed as HotPath documents them), written for clarity, not speed. State: the avail and used
/// cursors (index and wrap counter, moved together), the descriptors consumed since the start, and the per-vring
/// counters. A burst reads everything from the memory image taken before it and produces the image expected after it.
/// <para>Rules: a descriptor is available when its AVAIL/USED bits are (1,0) on a lap with wrap counter 1 and (0,1)
/// with wrap counter 0; any other combination is "not there yet", never an error. A chain is the consecutive
/// descriptors linked by NEXT (wrapping, the lap flipping at the end) up to the first without NEXT, or up to the
/// first that is not available (<see cref="DropReason.ChainNotAvailable"/>); its id is its last descriptor's. A bad
/// descriptor does not end the walk: the chain is followed to its end and its first failure is the reason. An
/// INDIRECT head without NEXT is a table of entries (non-empty multiple of 16 bytes, at most the ring size, mapped,
/// none INDIRECT, right direction). Each used entry goes at the used cursor: id, length, then flags AVAIL = USED =
/// the used wrap counter, with WRITE when the length is non-zero. A burst takes at most one lap of chains.</para>
/// <para>The batch-of-4 path is modelled too (only for the PackedBatchDescriptors counter; its result must equal the
/// one-by-one rules): at a cache-line boundary with four packets wanted, four available single descriptors of the
/// right direction, each inside one region and large enough (TX: one mbuf each, plain header when offloads are on;
/// RX: one-segment packets without offload requests).</para>
/// </summary>
internal sealed class PackedQueueModel : QueueModel
{
    private const ushort Next = VringPackedDesc.FlagNext, Write = VringPackedDesc.FlagWrite, Indirect = VringPackedDesc.FlagIndirect;

    private readonly ulong _device;
    private bool _kicksSuppressed;

    public uint Index { get; private set; }
    public bool Wrap { get; private set; }
    /// <summary>Descriptors consumed since the start (avail and used move together).</summary>
    public long Consumed { get; private set; }

    private int VecCap => (int)QueueSize + PackedScratch.ExtraPieces;

    public PackedQueueModel(uint size, uint start, bool wrap, ulong desc, ulong device, int hdr, SplitFeatures f)
        : base("packed", size, desc, hdr, f)
    {
        _device = device;
        Index = start;
        Wrap = wrap;
    }

    /// <summary>True when the descriptor at the cursor is available (something is pending).</summary>
    public bool HeadAvailable(GuestImage m) => IsAvail(Read(m, Index), Wrap);

    private readonly record struct Desc(ulong Addr, uint Len, ushort Id, ushort Flags);

    private Desc Read(GuestImage m, uint index)
    {
        ulong at = DescTable + 16UL * index;
        return new Desc(m.U64(at), m.U32(at + 8), m.U16(at + 12), m.U16(at + 14));
    }

    private static bool IsAvail(Desc d, bool wrap) => PackedRingLayout.IsAvail(d.Flags, wrap);

    private void Advance(ref uint index, ref bool wrap, uint n)
    {
        index += n;
        if (index >= QueueSize)
        {
            index -= QueueSize;
            wrap = !wrap;
        }
    }

    /// <summary>The walk of the chain whose head is at (<paramref name="index"/>, <paramref name="wrap"/>), available.</summary>
    public PackedChainWalk Walk(GuestImage m, uint index, bool wrap, bool writable, int vecUsed)
    {
        Desc d = Read(m, index);
        var pieces = new List<Piece>();
        int vec = vecUsed;
        ulong total = 0;
        if ((d.Flags & (Indirect | Next)) == Indirect)
        {
            Coverage.Hit("packed.indirect");
            return new PackedChainWalk(WalkIndirect(m, d, writable, pieces, ref vec, ref total), total, pieces, 1, d.Id);
        }
        DropReason bad = DropReason.None;
        uint n = 1;
        while (true)
        {
            if (bad == DropReason.None)
            {
                if ((d.Flags & Indirect) != 0) bad = n == 1 ? DropReason.IndirectWithNext : DropReason.IndirectNested;
                else if (((d.Flags & Write) != 0) != writable) bad = DropReason.WrongDirection;
                else
                {
                    total += d.Len;
                    bad = ChainWalkModel.AddPieces(m, d.Addr, d.Len, pieces, ref vec, VecCap);
                }
            }
            if ((d.Flags & Next) == 0) break;
            if (n == QueueSize)
            {
                if (bad == DropReason.None) bad = DropReason.ChainTooLong;
                break;
            }
            Advance(ref index, ref wrap, 1);
            Desc next = Read(m, index);
            if (!IsAvail(next, wrap))
            {
                if (bad == DropReason.None) bad = DropReason.ChainNotAvailable;
                break;
            }
            n++;
            d = next;
        }
        if (n > 1) Coverage.Hit("packed.multi-descriptor-chain");
        return new PackedChainWalk(bad, total, pieces, n, d.Id);
    }

    private DropReason WalkIndirect(GuestImage m, Desc head, bool writable, List<Piece> pieces, ref int vec, ref ulong total)
    {
        if (head.Len == 0 || head.Len % 16 != 0) return DropReason.IndirectBadLength;
        if (head.Len / 16 > QueueSize) return DropReason.IndirectTooLarge;
        if (head.Addr > ulong.MaxValue - (head.Len - 1)) return DropReason.IndirectOutsideMemory;
        for (uint i = 0; i < head.Len / 16; i++)
        {
            ulong at = head.Addr + 16UL * i;
            if (!m.InOneRegion(at, 16)) return DropReason.IndirectOutsideMemory;
            var e = new Desc(m.U64(at), m.U32(at + 8), m.U16(at + 12), m.U16(at + 14));
            if ((e.Flags & Indirect) != 0) return DropReason.IndirectNested;
            if (((e.Flags & Write) != 0) != writable) return DropReason.WrongDirection;
            total += e.Len;
            DropReason r = ChainWalkModel.AddPieces(m, e.Addr, e.Len, pieces, ref vec, VecCap);
            if (r != DropReason.None) return r;
        }
        return DropReason.None;
    }

    /// <summary>Burst start: the device event area says DISABLE (kicks off; written on the first burst).</summary>
    private void Begin(BurstExpectation e)
    {
        if (_kicksSuppressed) return;
        e.Image.WriteU32(_device, (uint)VringPackedEvent.Disable << 16);
        e.Writes.Add((_device, 4));
        _kicksSuppressed = true;
    }

    /// <summary>Used entries of a burst, in order: ring index, id, length (flags are the used lap's, WRITE if len != 0).</summary>
    private sealed class UsedWriter(PackedQueueModel q)
    {
        public uint Index = q.Index;
        public bool Wrap = q.Wrap;
        public readonly List<(uint Index, bool Wrap, ushort Id, uint Len)> Entries = new();

        public void Use(ushort id, uint len, uint descs)
        {
            Entries.Add((Index, Wrap, id, len));
            q.Advance(ref Index, ref Wrap, descs);
        }
    }

    private void Publish(BurstExpectation e, UsedWriter u)
    {
        foreach ((uint index, bool wrap, ushort id, uint len) in u.Entries)
        {
            ulong at = DescTable + 16UL * index;
            e.Image.WriteU32(at + 8, len);
            e.Image.WriteU16(at + 12, id);
            e.Image.WriteU16(at + 14, (ushort)(PackedRingLayout.UsedPattern(wrap) | (len != 0 ? Write : 0)));
            e.Writes.Add((at + 8, 8));
        }
    }

    private bool CanBatch(uint availIndex, uint usedIndex, int nShadow, long wanted) =>
        wanted >= 4 && availIndex % 4 == 0 && availIndex + 4 <= QueueSize && usedIndex + 4 <= QueueSize && nShadow + 4 <= QueueSize;

    // ------------------------------------------------------------------ dequeue (guest TX)

    public override BurstExpectation Dequeue(GuestImage before, int count, int mbufRoom)
    {
        uint room = (uint)mbufRoom;
        var e = new BurstExpectation { Image = new ExpectedMemory(before) };
        if (count == 0) return e;
        Begin(e);
        uint index = Index;
        bool wrap = Wrap;
        // How many mbufs the burst takes: all asked for (at most a lap) when the last of them is available, else
        // as many as are available in a row.
        uint max = Math.Min((uint)count, QueueSize), n;
        uint li = index;
        bool lw = wrap;
        Advance(ref li, ref lw, max - 1);
        if (IsAvail(Read(before, li), lw)) n = max;
        else
        {
            n = 0;
            uint ci = index;
            bool cw = wrap;
            while (n < max && IsAvail(Read(before, ci), cw))
            {
                n++;
                Advance(ref ci, ref cw, 1);
            }
        }
        if (n == 0) return e;
        var u = new UsedWriter(this);
        uint got = 0;
        while (got < n && u.Entries.Count < QueueSize)
        {
            if (CanBatch(index, u.Index, u.Entries.Count, n - got))
            {
                Desc[] four = [Read(before, index), Read(before, index + 1), Read(before, index + 2), Read(before, index + 3)];
                if (four.All(d => (d.Flags & (PackedRingLayout.OwnershipMask | Next | Write | Indirect)) == PackedRingLayout.AvailPattern(wrap) &&
                                  d.Len > (uint)HeaderSize && d.Len <= (uint)HeaderSize + room && before.InOneRegion(d.Addr, d.Len) &&
                                  (!TxOffloads || before.U16(d.Addr) == 0)))
                {
                    Coverage.Hit("packed.tx-batch");
                    foreach (Desc d in four)
                    {
                        byte[] bytes = before.Span(d.Addr + (ulong)HeaderSize, (int)(d.Len - (uint)HeaderSize)).ToArray();
                        e.Packets.Add(bytes);
                        CountPacket(bytes, (ulong)bytes.Length);
                        u.Use(d.Id, 0, 1);
                    }
                    got += 4;
                    BatchDone(e, "tx", ref index, ref wrap);
                    continue;
                }
            }
            if (!IsAvail(Read(before, index), wrap)) break;
            PackedChainWalk w = Walk(before, index, wrap, writable: false, 0);
            (DropReason r, byte[]? pkt) = w.Ok ? PacketRules.TxPacket(before, w.Pieces, w.Total, HeaderSize, TxOffloads) : (w.Reason, null);
            u.Use(w.Id, 0, w.Descs);
            Advance(ref index, ref wrap, w.Descs);
            if (TxChain(e, $"tx chain of {w.Descs} at {index}", r, pkt, mbufRoom)) got++;
        }
        Publish(e, u);
        Commit(index, wrap, u);
        e.Returned = (int)got;
        if (u.Entries.Count == QueueSize) Coverage.Hit("packed.full-lap-burst");
        return e;
    }

    private void Commit(uint index, bool wrap, UsedWriter u)
    {
        long moved = (index + (wrap != Wrap ? QueueSize : 0)) - Index;
        if (wrap != Wrap) Coverage.Hit("packed.wrap");
        Consumed += moved;
        Index = index;
        Wrap = wrap;
        if (u.Index != index || u.Wrap != wrap) throw new InvalidOperationException("model: used and avail cursors apart");
    }


    // ------------------------------------------------------------------ enqueue (guest RX)

    /// <summary>An enqueue burst; <paramref name="firstSegment"/> is each packet's first mbuf length (all of it: one segment).</summary>
    public override BurstExpectation Enqueue(GuestImage before, IReadOnlyList<byte[]> packets, IReadOnlyList<int> firstSegment)
    {
        var e = new BurstExpectation { Image = new ExpectedMemory(before) };
        if (packets.Count == 0) return e;
        Begin(e);
        uint index = Index;
        bool wrap = Wrap;
        if (!IsAvail(Read(before, index), wrap)) return e;
        var u = new UsedWriter(this);
        var writes = new List<(ulong Gpa, ulong Len)>();
        int done = 0;
        while (done < packets.Count && u.Entries.Count < QueueSize)
        {
            if (CanBatch(index, u.Index, u.Entries.Count, packets.Count - done))
            {
                int[] k = [done, done + 1, done + 2, done + 3];
                Desc[] four = [Read(before, index), Read(before, index + 1), Read(before, index + 2), Read(before, index + 3)];
                bool ok = k.All(i => firstSegment[i] == packets[i].Length);
                for (int j = 0; ok && j < 4; j++)
                {
                    Desc d = four[j];
                    ok = (d.Flags & (PackedRingLayout.OwnershipMask | Next | Write | Indirect)) == (PackedRingLayout.AvailPattern(wrap) | Write) &&
                         d.Len >= (ulong)packets[k[j]].Length + (ulong)HeaderSize && before.InOneRegion(d.Addr, d.Len);
                }
                if (ok)
                {
                    Coverage.Hit("packed.rx-batch");
                    for (int j = 0; j < 4; j++)
                    {
                        u.Use(four[j].Id, PacketRules.WriteRx(e, [new Piece(four[j].Addr, four[j].Len)], HeaderSize, 1, packets[k[j]], writes), 1);
                        CountPacket(packets[k[j]], (ulong)packets[k[j]].Length);
                    }
                    done += 4;
                    BatchDone(e, "rx", ref index, ref wrap);
                    continue;
                }
            }
            if (!IsAvail(Read(before, index), wrap)) break;
            byte[] pkt = packets[done];
            bool delivered = MrgRxbuf
                ? Mergeable(before, e, pkt, ref index, ref wrap, u, writes)
                : Single(before, e, pkt, ref index, ref wrap, u, writes);
            if (!delivered) break;
            CountPacket(pkt.AsSpan(0, Math.Min(pkt.Length, firstSegment[done])), (ulong)pkt.Length);
            done++;
        }
        SplitQueueModel.MarkContested(e, writes);
        Publish(e, u);
        Commit(index, wrap, u);
        e.Returned = done;
        return e;
    }

    /// <summary>A batch of 4 went through at <paramref name="index"/>: traced, counted, and the cursor moves past it.</summary>
    private void BatchDone(BurstExpectation e, string ring, ref uint index, ref bool wrap)
    {
        e.Trace.Add($"{ring} batch at {index}: 4 packets");
        Counters[VringStats.PackedBatchDescriptors] += 4;
        Advance(ref index, ref wrap, 4);
    }

    private bool Single(GuestImage m, BurstExpectation e, byte[] pkt, ref uint index, ref bool wrap, UsedWriter u,
        List<(ulong, ulong)> writes)
    {
        for (bool first = true; ; first = false)
        {
            if (u.Entries.Count == QueueSize || (!first && !IsAvail(Read(m, index), wrap))) return false;
            PackedChainWalk w = Walk(m, index, wrap, writable: true, 0);
            switch (PacketRules.Single(w.Reason, w.Total, pkt.Length, HeaderSize, out DropReason r))
            {
                case RxFit.Fits:
                    u.Use(w.Id, PacketRules.WriteRx(e, w.Pieces, HeaderSize, 1, pkt, writes), w.Descs);
                    Advance(ref index, ref wrap, w.Descs);
                    e.Trace.Add($"rx chain of {w.Descs} (id {w.Id}): {pkt.Length}-byte packet");
                    return true;
                case RxFit.TooSmall:
                    return RxTooSmall(e, $"rx chain of {w.Descs} (id {w.Id})", w.Total, pkt.Length);
            }
            Dropped(e, $"rx chain of {w.Descs} (id {w.Id})", r);
            u.Use(w.Id, 0, w.Descs);
            Advance(ref index, ref wrap, w.Descs);
        }
    }

    private bool Mergeable(GuestImage m, BurstExpectation e, byte[] pkt, ref uint index, ref bool wrap, UsedWriter u,
        List<(ulong, ulong)> writes)
    {
        ulong remaining = (ulong)pkt.Length + (ulong)HeaderSize;
        uint markIndex = index;
        bool markWrap = wrap;
        var pieces = new List<Piece>();
        var mine = new List<(ushort Id, uint Len, uint Descs)>();
        var between = new List<(ushort Id, uint Descs, DropReason Reason)>();
        for (bool first = true; remaining != 0; first = false)
        {
            if (mine.Count + between.Count >= QueueSize - u.Entries.Count || (!first && !IsAvail(Read(m, index), wrap)))
            {
                e.Trace.Add($"rx: not enough buffers for a {pkt.Length}-byte packet: nothing consumed, burst ends");
                Coverage.Hit("packed.mergeable-rollback");
                index = markIndex;
                wrap = markWrap;
                return false;
            }
            PackedChainWalk w = Walk(m, index, wrap, writable: true, pieces.Count);
            DropReason r = w.Reason;
            if (r == DropReason.None && w.Total < (ulong)HeaderSize) r = DropReason.ChainTooShort;
            Advance(ref index, ref wrap, w.Descs);
            if (r != DropReason.None)
            {
                if (mine.Count == 0)
                {
                    Dropped(e, $"rx chain id {w.Id}", r);
                    u.Use(w.Id, 0, w.Descs);
                    markIndex = index;
                    markWrap = wrap;
                }
                else between.Add((w.Id, w.Descs, r));
                continue;
            }
            pieces.AddRange(w.Pieces);
            uint len = (uint)Math.Min(w.Total, remaining);
            mine.Add((w.Id, len, w.Descs));
            remaining -= len;
        }
        foreach ((ushort id, uint len, uint descs) in mine) u.Use(id, len, descs);
        foreach ((ushort id, uint descs, DropReason r) in between)
        {
            Dropped(e, $"rx chain id {id} (between the buffers of a packet)", r);
            u.Use(id, 0, descs);
        }
        PacketRules.WriteRx(e, pieces, HeaderSize, mine.Count, pkt, writes);
        e.Trace.Add($"rx: {pkt.Length}-byte packet in {mine.Count} buffer(s)");
        if (mine.Count > 1) Coverage.Hit("packed.mergeable-multi-buffer");
        if (between.Count > 0) Coverage.Hit("packed.mergeable-bad-between");
        return true;
    }
}
