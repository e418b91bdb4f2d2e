namespace HotPath.Engine.Inflight;

/// <summary>
/// Packed-ring inflight tracking (vhost-user "Inflight I/O tracking", packed virtqueue) with the semantics of DPDK's
/// rte_vhost_*_inflight_*_packed. Taken chains are copied into entries of a free list held in the region (a chain
/// may span several entries; its head entry keeps num, last and the counter); publishing returns the entries to the
/// free list, and the old_* fields commit a batch. Every free-list link and every count read from the shared
/// region is bounded before it indexes anything (DPDK follows them unchecked).
/// </summary>
public static unsafe class InflightPacked
{
    /// <summary>
    /// rte_vhost_set_inflight_desc_packed: the chain in ring slots <paramref name="head"/>..<paramref name="last"/>
    /// (wrapping at the ring end; <paramref name="last"/> just before <paramref name="head"/> is a whole lap) was
    /// taken; its descriptors are copied from <paramref name="ring"/> into free entries. <paramref name="entry"/> is
    /// the head entry, to pass to <see cref="AddToBatch"/> and <see cref="Clear"/>. False when an index is out of
    /// range or the free list runs out or is corrupt.
    /// </summary>
    public static bool Take(InflightQueue q, VringPackedDesc* ring, uint head, uint last, out ushort entry)
    {
        entry = 0;
        uint size = q.RingSize;
        if (head >= size || last >= size) return false;
        return TakeChain(q, ring, head, (last + size - head) % size + 1, out entry);
    }

    /// <summary>
    /// <see cref="Take"/> by descriptor count: the <paramref name="descs"/> (1 to the ring size) ring descriptors
    /// from slot <paramref name="head"/> on. On failure nothing is taken: old_free_head and free_head are as before (the
    /// entries written to are still on the free list).
    /// </summary>
    public static bool TakeChain(InflightQueue q, VringPackedDesc* ring, uint head, uint descs, out ushort entry)
    {
        entry = 0;
        uint size = q.RingSize;
        if (head >= size || descs == 0 || descs > size) return false;
        InflightPackedHeader* h = q.PackedHeader;
        InflightPackedDesc* d = q.PackedDescs;
        uint first = h->OldFreeHead;
        if (first >= q.Entries) return false;
        InflightPackedDesc* e = d + first;
        e->Num = 0;
        e->Counter = q.GlobalCounter++;
        e->Inflight = 1;
        uint free = first;
        for (uint k = 0; k < descs; k++)
        {
            if (free >= q.Entries)
            {
                // The free list is shorter than the chain (or a frontend broke it): nothing was taken. The entries
                // written are still on the free list (old_free_head did not move), so the next take reuses them.
                e->Inflight = 0;
                h->FreeHead = (ushort)first;
                return false;
            }
            // SAFETY: head < size, inside the translated descriptor ring; each field read once.
            VringPackedDesc desc = ring[head];
            InflightPackedDesc* f = d + free;
            e->Num++;
            f->Addr = desc.Addr;
            f->Len = desc.Len;
            f->Flags = desc.Flags;
            f->Id = desc.Id;
            e->Last = (ushort)free;
            free = f->Next;
            h->FreeHead = (ushort)free;
            head = head + 1 == size ? 0 : head + 1;
        }
        h->OldFreeHead = (ushort)free;
        entry = (ushort)first;
        return true;
    }

    /// <summary>
    /// rte_vhost_set_last_inflight_io_packed: the chain of head entry <paramref name="entry"/> is about to be
    /// published: its entries go back on the free list and used_idx advances by its length (wrapping with the
    /// counter). Clear commits it.
    /// </summary>
    public static bool AddToBatch(InflightQueue q, uint entry)
    {
        if (entry >= q.Entries) return false;
        InflightPackedHeader* h = q.PackedHeader;
        InflightPackedDesc* d = q.PackedDescs;
        uint last = d[entry].Last;
        uint num = d[entry].Num;
        if (last >= q.Entries || num > q.RingSize) return false;
        d[last].Next = h->FreeHead;
        h->FreeHead = (ushort)entry;
        uint used = h->UsedIdx + num;
        if (used >= q.RingSize)
        {
            used -= q.RingSize;
            h->UsedWrapCounter = (byte)(h->UsedWrapCounter == 0 ? 1 : 0);
        }
        h->UsedIdx = (ushort)used;
        return true;
    }

    /// <summary>rte_vhost_clr_inflight_desc_packed: the chain of <paramref name="entry"/> is published; commit the batch.</summary>
    public static bool Clear(InflightQueue q, uint entry)
    {
        if (entry >= q.Entries) return false;
        InflightPackedHeader* h = q.PackedHeader;
        // Full fences as DPDK: the descriptor flags the caller wrote are visible before the entry stops being
        // inflight, and that before the old_* fields commit the batch.
        Interlocked.MemoryBarrier();
        q.PackedDescs[entry].Inflight = 0;
        Interlocked.MemoryBarrier();
        h->OldFreeHead = h->FreeHead;
        h->OldUsedIdx = h->UsedIdx;
        h->OldUsedWrapCounter = h->UsedWrapCounter;
        return true;
    }

    /// <summary>
    /// Ring start (DPDK's vhost_check_queue_inflights_packed, with the spec's check of the ring). A fresh region is
    /// marked version 1. Otherwise an uncommitted batch is committed when its first descriptor in
    /// <paramref name="ring"/> shows it was published (flags no longer "available" for old_used_wrap_counter), and
    /// rolled back otherwise; the entries left on the free list are not inflight; the rest become the resubmit list.
    /// </summary>
    public static int Start(InflightQueue q, VringPackedDesc* ring)
    {
        InflightPackedHeader* h = q.PackedHeader;
        if (Volatile.Read(ref h->Version) == 0)
        {
            h->Version = InflightRegion.Version;
            return q.BuildResubmit();
        }
        ushort oldUsed = h->OldUsedIdx;
        // The wrap counter too (DPDK compares the index only): a batch of a whole lap ends at the index it began at.
        if ((h->UsedIdx != oldUsed || h->UsedWrapCounter != h->OldUsedWrapCounter) && oldUsed < q.RingSize)
        {
            // SAFETY: oldUsed < ring size, inside the translated descriptor ring; the flags are read once.
            ushort flags = Volatile.Read(ref ring[oldUsed].Flags);
            if (!PackedRingLayout.IsAvail(flags, h->OldUsedWrapCounter != 0))
            {
                h->OldFreeHead = h->FreeHead;
                h->OldUsedIdx = h->UsedIdx;
                h->OldUsedWrapCounter = h->UsedWrapCounter;
            }
        }
        h->FreeHead = h->OldFreeHead;
        h->UsedIdx = h->OldUsedIdx;
        h->UsedWrapCounter = h->OldUsedWrapCounter;
        InflightPackedDesc* d = q.PackedDescs;
        uint free = h->FreeHead;
        for (uint k = 0; k < q.Entries && free < q.Entries; k++)
        {
            d[free].Inflight = 0;
            free = d[free].Next;
        }
        return q.BuildResubmit();
    }

    /// <summary>rte_vhost_get_vring_base_from_inflight: old_used_idx | old_used_wrap_counter &lt;&lt; 15.</summary>
    public static ushort BaseFromRegion(InflightQueue q)
    {
        InflightPackedHeader* h = q.PackedHeader;
        return (ushort)((h->OldUsedIdx & 0x7FFF) | (h->OldUsedWrapCounter != 0 ? 0x8000 : 0));
    }
}
