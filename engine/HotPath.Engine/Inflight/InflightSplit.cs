namespace HotPath.Engine.Inflight;

/// <summary>
/// Split-ring inflight tracking (vhost-user "Inflight I/O tracking", split virtqueue), for the C API
/// (rte_vhost_*_inflight_*_split semantics) and for the built-in net datapath, which tracks a burst's heads as one
/// batch. The protocol, for each batch of used heads:
/// <list type="number">
/// <item>taking head i from the avail ring: desc[i].counter = global counter++, desc[i].inflight = 1;</item>
/// <item>before publishing: desc[i].next = last_batch_head, last_batch_head = i, for every head of the batch;</item>
/// <item>the used entries and used.idx are published;</item>
/// <item>desc[i].inflight = 0 for the batch, then used_idx = used.idx.</item>
/// </list>
/// A backend killed anywhere in between leaves a region <see cref="Start"/> repairs: when used_idx differs from the
/// ring's used.idx, the batch was published but not cleared, and the (used.idx - used_idx) entries of the list from
/// last_batch_head are cleared. What stays inflight was taken and never published: the resubmit list.
/// </summary>
public static unsafe class InflightSplit
{
    /// <summary>rte_vhost_set_inflight_desc_split: head <paramref name="idx"/> was taken from the avail ring.</summary>
    public static bool Take(InflightQueue q, uint idx)
    {
        if (idx >= q.Entries) return false;
        InflightSplitDesc* d = q.SplitDescs + idx;
        d->Counter = q.GlobalCounter++;
        d->Inflight = 1;
        return true;
    }

    /// <summary>
    /// rte_vhost_set_last_inflight_io_split: <paramref name="idx"/> joins the batch about to be published (pushed on
    /// the last-batch list). DPDK only records the head; linking it too makes a batch of several heads published by
    /// one used.idx update recoverable, and is the same for a batch of one.
    /// </summary>
    public static bool AddToBatch(InflightQueue q, uint idx)
    {
        if (idx >= q.Entries) return false;
        InflightSplitHeader* h = q.SplitHeader;
        q.SplitDescs[idx].Next = h->LastBatchHead;
        h->LastBatchHead = (ushort)idx;
        return true;
    }

    /// <summary>rte_vhost_clr_inflight_desc_split: head <paramref name="idx"/> is published; the ring's used.idx is now <paramref name="usedIdx"/>.</summary>
    public static bool Clear(InflightQueue q, uint idx, ushort usedIdx)
    {
        if (idx >= q.Entries) return false;
        // Full fences as DPDK: the used entry and used.idx the caller wrote are visible before the head stops being
        // inflight, and the clear before used_idx says the batch is finished (a crash between them is repaired by
        // Start from the batch list).
        Interlocked.MemoryBarrier();
        q.SplitDescs[idx].Inflight = 0;
        Interlocked.MemoryBarrier();
        q.SplitHeader->UsedIdx = usedIdx;
        return true;
    }

    /// <summary>
    /// Built-in datapath, before publishing a burst: every head of its <paramref name="n"/> used entries is taken
    /// (steps 1 and 2 in one pass; both only have to precede the used.idx release store that follows). Heads outside
    /// the region are not tracked.
    /// </summary>
    public static void TakeBatch(InflightQueue q, VringUsedElem* used, uint n)
    {
        InflightSplitHeader* h = q.SplitHeader;
        InflightSplitDesc* descs = q.SplitDescs;
        ushort last = h->LastBatchHead;   // read once; only this ring's burst writes it
        ulong counter = q.GlobalCounter;
        for (uint k = 0; k < n; k++)
        {
            uint head = used[k].Id;
            if (head >= q.Entries) continue;
            InflightSplitDesc* d = descs + head;
            d->Counter = counter++;
            d->Inflight = 1;
            d->Next = last;
            last = (ushort)head;
        }
        q.GlobalCounter = counter;
        h->LastBatchHead = last;
    }

    /// <summary>Built-in datapath, after the used.idx store of the burst: the batch is done (step 4).</summary>
    public static void CompleteBatch(InflightQueue q, VringUsedElem* used, uint n, ushort usedIdx)
    {
        // Full fence: the used.idx release store is ordered before the clears below (a release store alone does not
        // keep later stores after it). A crash before the clears is repaired from the batch list.
        Interlocked.MemoryBarrier();
        InflightSplitDesc* descs = q.SplitDescs;
        for (uint k = 0; k < n; k++)
        {
            uint head = used[k].Id;
            if (head < q.Entries) descs[head].Inflight = 0;
        }
        // Release: the clears are visible before used_idx says the batch is finished.
        Volatile.Write(ref q.SplitHeader->UsedIdx, usedIdx);
    }

    /// <summary>
    /// Ring start (SET_VRING_KICK, DPDK's vhost_check_queue_inflights_split). A fresh region (version 0) is marked
    /// version 1 and nothing is resubmitted. Otherwise a published-but-uncleared last batch is cleared
    /// (<paramref name="ringUsedIdx"/> is the ring's used.idx, read once by the caller) and the entries still
    /// inflight become the resubmit list. Returns how many there are.
    /// </summary>
    public static int Start(InflightQueue q, ushort ringUsedIdx)
    {
        InflightSplitHeader* h = q.SplitHeader;
        if (Volatile.Read(ref h->Version) == 0)
        {
            h->Version = InflightRegion.Version;
            return q.BuildResubmit();   // an empty list; resets the counter
        }
        ushort regionUsed = h->UsedIdx;
        if (regionUsed != ringUsedIdx)
        {
            // The last batch reached the ring: clear its entries. Its size is bounded by the entries (a hostile
            // region cannot make the walk longer), and every next is bounded before it indexes anything.
            uint batch = Math.Min((ushort)(ringUsedIdx - regionUsed), q.Entries);
            uint i = h->LastBatchHead;
            for (uint k = 0; k < batch && i < q.Entries; k++)
            {
                InflightSplitDesc* d = q.SplitDescs + i;
                d->Inflight = 0;
                i = d->Next;
            }
            Interlocked.MemoryBarrier();   // the clears before used_idx, as in CompleteBatch
            h->UsedIdx = ringUsedIdx;
        }
        return q.BuildResubmit();
    }
}
