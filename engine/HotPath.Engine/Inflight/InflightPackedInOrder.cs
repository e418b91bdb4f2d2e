namespace HotPath.Engine.Inflight;

/// <summary>
/// Packed-ring inflight tracking by the built-in net datapath, in the region layout and free-list protocol of
/// <see cref="InflightPacked"/>. Its bursts take chains in ring order and return every chain they took used before
/// they end, one batch per burst:
/// <list type="number">
/// <item>A chain is taken (<see cref="InflightPacked.TakeChain"/>) once the burst's slow path has walked it and before
/// the burst writes its used id and length over the head descriptor: the region holds the descriptors as the driver
/// wrote them, in ring order from old_used_idx.</item>
/// <item><see cref="Publishing"/>, before the used flags: the batch's entries go back on the free list and
/// used_idx/used_wrap_counter name the burst's new used position.</item>
/// <item>The used flags are stored, the burst's first descriptor last.</item>
/// <item><see cref="Published"/>: a full fence, the inflight bytes cleared, a full fence, the old_* fields commit.</item>
/// </list>
/// A backend killed anywhere leaves a region <see cref="InflightPacked.Start"/> repairs: the batch is committed when
/// the ring shows its first descriptor used, else rolled back. What stays inflight is then every chain taken from
/// old_used_idx on, oldest first: <see cref="Resume"/> writes those descriptors back into their ring slots (the dead
/// backend may have written used ids, lengths or, past the first, flags over them; the driver has seen none of it,
/// since it reads used descriptors in order from the first) and the device reads them from the ring again.
/// </summary>
public static unsafe class InflightPackedInOrder
{
    /// <summary>
    /// Before the burst's used flags are stored: the <paramref name="n"/> chains taken (head entries
    /// <paramref name="entries"/>) go back on the free list, and used_idx is the burst's new used position. Setting
    /// it (rather than adding each chain's length) keeps the region on the ring's position even past a chain that
    /// could not be taken.
    /// </summary>
    public static void Publishing(InflightQueue q, ushort* entries, uint n, uint usedIndex, bool usedWrap)
    {
        InflightPackedHeader* h = q.PackedHeader;
        InflightPackedDesc* d = q.PackedDescs;
        uint free = h->FreeHead;
        for (uint k = 0; k < n; k++)
        {
            uint e = entries[k];
            if (e >= q.Entries) continue;
            uint last = d[e].Last;   // read once, bounded: the frontend may have rewritten it
            if (last >= q.Entries) continue;
            d[last].Next = (ushort)free;
            free = e;
        }
        h->FreeHead = (ushort)free;
        h->UsedIdx = (ushort)usedIndex;
        h->UsedWrapCounter = (byte)(usedWrap ? 1 : 0);
    }

    /// <summary>After the burst's used flags were stored: the batch is done.</summary>
    public static void Published(InflightQueue q, ushort* entries, uint n)
    {
        InflightPackedHeader* h = q.PackedHeader;
        InflightPackedDesc* d = q.PackedDescs;
        // Full fences as InflightPacked.Clear: the flags before the entries stop being inflight, and those before
        // the old_* fields commit the batch (a crash in between is repaired by Start from the ring).
        Interlocked.MemoryBarrier();
        for (uint k = 0; k < n; k++)
            if (entries[k] < q.Entries) d[entries[k]].Inflight = 0;
        Interlocked.MemoryBarrier();
        h->OldFreeHead = h->FreeHead;
        h->OldUsedIdx = h->UsedIdx;
        h->OldUsedWrapCounter = h->UsedWrapCounter;
    }

    /// <summary>
    /// The chains taken since a packet started (<paramref name="entries"/>[0..<paramref name="n"/>), the first
    /// taken first) go back: the packet did not fit and leaves them available in the ring. The free list is as it
    /// was before the first of them (a take does not relink it); then they stop being inflight (a crash in between
    /// is repaired by Start, which clears every entry on the free list).
    /// </summary>
    public static void Untake(InflightQueue q, ushort* entries, uint n)
    {
        if (n == 0) return;
        InflightPackedHeader* h = q.PackedHeader;
        h->OldFreeHead = entries[0];
        h->FreeHead = entries[0];
        Interlocked.MemoryBarrier();
        for (uint k = 0; k < n; k++)
            if (entries[k] < q.Entries) q.PackedDescs[entries[k]].Inflight = 0;
    }

    /// <summary>
    /// Ring start of a ring the built-in device runs, after <see cref="InflightPacked.Start"/>: where it resumes,
    /// old_used_idx | old_used_wrap_counter &lt;&lt; 15 (<paramref name="position"/>). On a region a previous backend
    /// tracked into (<paramref name="recovered"/>), the resubmit list, oldest first, must be the chains in the ring
    /// from there on (their addresses unchanged, each laid out as a chain): then their descriptors are written back
    /// into the ring, the device resumes there and true is returned. Otherwise (and on a fresh region) it resumes at
    /// <paramref name="fresh"/>, the ring's position as the frontend set it. Either way the region is then reset to
    /// nothing taken at that position.
    /// </summary>
    public static bool Resume(InflightQueue q, VringPackedDesc* ring, bool recovered, ushort fresh, out ushort position)
    {
        InflightPackedHeader* h = q.PackedHeader;
        position = fresh;
        bool matches = true;
        if (recovered)
        {
            ushort from = InflightPacked.BaseFromRegion(q);
            // A position outside the ring (a frontend rewrote the region) is not resumed from.
            matches = (from & 0x7FFF) < q.RingSize && Rewrite(q, ring, from, write: false);
            if (matches)
            {
                Rewrite(q, ring, from, write: true);
                position = from;
            }
        }
        Reset(q, position);
        return matches;
    }

    /// <summary>
    /// Walks the resubmit list, oldest first, over the ring slots from <paramref name="position"/>: checks each
    /// entry against its slot, or (<paramref name="write"/>) writes it back. Every index is bounded: the list holds
    /// at most the entries, each chain's entries are followed at most its num times, and at most one lap is walked.
    /// </summary>
    private static bool Rewrite(InflightQueue q, VringPackedDesc* ring, ushort position, bool write)
    {
        ResubmitInfo* r = q.Resubmit;
        int n = r == null ? 0 : r->Num;
        InflightPackedDesc* d = q.PackedDescs;
        uint size = q.RingSize;
        uint at = position & 0x7FFFu;
        bool wrap = (position & 0x8000) != 0;
        uint walked = 0;
        for (int k = n - 1; k >= 0; k--)
        {
            uint e = r->List[k].Index;
            if (e >= q.Entries) return false;
            uint num = d[e].Num;   // read once
            if (num == 0 || num > size - walked) return false;
            for (uint j = 0; j < num; j++)
            {
                if (e >= q.Entries) return false;
                InflightPackedDesc c = d[e];
                if (write)
                {
                    // SAFETY: at < size. The slot is the device's (available, not yet used as the driver sees it);
                    // id and length first, the flags (release) last.
                    ring[at].Len = c.Len;
                    ring[at].Id = c.Id;
                    Volatile.Write(ref ring[at].Flags, c.Flags);
                }
                else
                {
                    // The device never writes a descriptor's address; the flags copied when the chain was taken say
                    // available for this lap, NEXT on all but the chain's last.
                    bool next = (c.Flags & VringPackedDesc.FlagNext) != 0;
                    if (Volatile.Read(ref ring[at].Addr) != c.Addr || !PackedRingLayout.IsAvail(c.Flags, wrap) || next != (j + 1 < num))
                        return false;
                }
                e = c.Next;
                if (++at == size)
                {
                    at = 0;
                    wrap = !wrap;
                }
            }
            walked += num;
        }
        return true;
    }

    /// <summary>
    /// Nothing taken: every entry free and not inflight, in order on the free list, used position
    /// <paramref name="position"/> (index | wrap &lt;&lt; 15). The links and inflight bytes first, the header last.
    /// </summary>
    private static void Reset(InflightQueue q, ushort position)
    {
        InflightPackedDesc* d = q.PackedDescs;
        for (uint i = 0; i < q.Entries; i++)
        {
            d[i].Inflight = 0;
            d[i].Next = (ushort)(i + 1);
        }
        Interlocked.MemoryBarrier();
        InflightPackedHeader* h = q.PackedHeader;
        h->FreeHead = 0;
        h->OldFreeHead = 0;
        h->UsedIdx = (ushort)(position & 0x7FFF);
        h->OldUsedIdx = h->UsedIdx;
        h->UsedWrapCounter = (byte)(position >> 15);
        h->OldUsedWrapCounter = h->UsedWrapCounter;
    }
}
