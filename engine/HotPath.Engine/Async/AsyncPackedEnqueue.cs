using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Engine.Memory;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Async;

/// <summary>
/// The packed ring's async enqueue submit (the seed's virtio_dev_rx_async_submit_packed), the packed twin of
/// <see cref="AsyncSplitEnqueue"/>: each packet's chains are walked and reserved (the synchronous burst's one-chain
/// inline case inline, any other by the packed slow path writing through <see cref="AsyncPackedSink"/>), the used
/// entries' ids and lengths are written in place and their flags go to the queue's pending used ring
/// (<see cref="AsyncQueue.AppendPackedUsed"/>), and the burst's copies go to the channel in one transfer_data. No
/// batch-of-4 path: its used flags go out at once. The synchronous burst (<see cref="PackedEnqueue"/>) is untouched.
/// The caller holds the access lock, checked the ring is ready and that packed inflight tracking is off (its
/// per-burst region batch cannot span submits: those devices take the synchronous copy).
/// </summary>
[SkipLocalsInit]
internal static unsafe class AsyncPackedEnqueue
{
    public static ushort Submit(VhostDevice dev, Vring vq, AsyncQueue q, GuestMemory mem, Mbuf** pkts, uint count)
    {
        ulong features = dev.Features;
        PackedRing.Begin(dev, vq, features, out PackedCursor avail, out _);
        // Used entries go after those still waiting for copies (the ring's used position trails by them).
        PackedCursor used = q.PackedUsedCursor(vq);
        byte* descs = vq.Desc;
        uint size = vq.Size;
        if (!PackedRing.HeadAvailable(descs, avail)) return 0;
        // The guest can have at most a ring's worth of chains with the device: those reserved by earlier submits and
        // not published yet count, and so do their descriptors (a hostile guest flipping them to the next lap gets
        // nothing more).
        uint reserved = Math.Max(q.UsedTail - q.UsedHead, q.PendingPackedDescriptors(vq));
        uint room = Math.Min(size, q.UsedCapacity);
        room = room > reserved ? room - reserved : 0;
        count = Math.Min(count, q.FreeSlots);

        PackedScratch s = vq.PackedScratch!;
        uint hdr = (uint)VirtioNetHeader.SizeFor(features);
        uint threshold = q.Features.Threshold;
        uint* shadow = s.Shadow;
        var batch = new BatchCopy(s.Batch, s.BatchCapacity);
        RegionCache region = PackedRing.FirstRegion(vq, ColdBurst.PackedWriteNeedsPieces, mem, PackedDescriptor.At(descs, avail.Index));
        uint usedBase = q.UsedTail;
        uint nShadow = 0, done = 0;
        CopyEngineChannel? engine = q.InOrderEngine;
        for (; done < count && nShadow < room; done++)
        {
            if (engine != null && pkts[done]->PktLen >= threshold)
            {
                // A run appends its entries to the pending ring directly: this burst's earlier ones go first.
                if (nShadow != 0)
                {
                    q.AppendPackedUsed(shadow, nShadow, used);
                    room -= nShadow;
                    nShadow = 0;
                }
                uint k = InlineRun(vq, q, engine, mem, ref region, pkts + done, Math.Min(count - done, room), ref avail,
                    ref used, hdr, threshold);
                usedBase = q.UsedTail;
                if (k != 0)
                {
                    done += k - 1;
                    room -= k;
                    continue;
                }
                engine = null;   // not the inline case (or no room): no more runs tried in this burst
            }
            byte* d = PackedDescriptor.At(descs, avail.Index);
            // SAFETY: avail.Index < size; acquire load of its flags before anything else of it is read.
            ulong meta = PackedDescriptor.ReadMeta(d);
            if (!PackedDescriptor.IsAvail(meta, avail.Pattern)) break;   // out of guest buffers: not an error
            Mbuf* m = pkts[done];
            uint len = PackedDescriptor.Len(meta);
            // The synchronous burst's inline case, in the cached region (never while logging: ForInline).
            if (PackedEnqueue.IsInlineCase(meta, m, len, hdr))
            {
                ulong addr = PackedDescriptor.ReadAddr(d);
                byte* dst = PackedRing.Translate(ref region, vq, ColdBurst.PackedWriteNeedsPieces, mem, addr, len);
                if (dst != null)
                {
                    uint pktLen = m->PktLen;
                    // SAFETY: [dst, dst+len) is writable guest memory in one region; hdr + pktLen <= len; nShadow < room <= size.
                    NetHeaderCodec.WritePlain(dst, hdr);
                    PackedUsedRing.Add(descs, shadow, nShadow++, PackedUsedRing.DirectNever, used.Index, used.Pattern,
                        PackedDescriptor.Id(meta), pktLen + hdr);
                    avail.Advance(1, size);
                    used.Advance(1, size);
                    if (pktLen < threshold || !q.CommitOne(m, m->Data, dst + hdr, pktLen, addr + hdr, usedBase + nShadow))
                    {
                        batch.AddOnePerChain(dst + hdr, m->Data, pktLen);
                        q.CommitCpu(m, usedBase + nShadow);
                    }
                    continue;
                }
            }
            PackedEnqueueStep step = PackedEnqueueSlow.PacketThrough<AsyncPackedSink>(dev, vq, mem, m, meta, avail, used, nShadow, room);
            avail = step.Avail;
            used = step.Used;
            nShadow = step.NShadow;
            if (!step.Delivered) break;
            q.Commit(m, usedBase + nShadow);
        }
        vq.LastAvailIdx = (ushort)avail.Index;
        vq.AvailWrapCounter = avail.Wrap;
        // The CPU's small copies land before anything that may publish them (this burst's Publish below).
        batch.Flush();
        if (nShadow != 0) q.AppendPackedUsed(shadow, nShadow, used);
        q.Offer();
        q.Publish();
        return (ushort)done;
    }

    /// <summary>
    /// The packed twin of the split submit's inline run (in-order built-in engine): from <paramref name="pkts"/>[0] on,
    /// every packet of at least <paramref name="threshold"/> bytes that is the inline case gets its header, its
    /// pending used entry (used position, buffer id, length: nothing is written into the descriptor before
    /// publication, which writes id, length and flags) and its engine job; the run's slots are committed after the
    /// loop. A run wraps neither ring cursor, the pending ring nor the job array. It stops, with nothing done for it,
    /// at the first packet that is not the case. Returns the packets taken, one chain and one used entry each.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static uint InlineRun(Vring vq, AsyncQueue q, CopyEngineChannel e, GuestMemory mem, ref RegionCache region,
        Mbuf** pkts, uint n, ref PackedCursor avail, ref PackedCursor used, uint hdr, uint threshold)
    {
        uint size = vq.Size;
        CopyJob* jobs = e.RunJobs(out uint jobRoom);
        VringUsedElem* pending = q.PendingRun(out uint pendingRoom);
        n = Math.Min(Math.Min(n, jobRoom), pendingRoom);
        n = Math.Min(n, Math.Min(size - avail.Index, size - used.Index));
        byte* descs = vq.Desc + ((nuint)avail.Index << 4);
        uint availPattern = avail.Pattern;
        uint usedPos = used.Position;   // the first entry's; + i for the i-th (no wrap within the run)
        RegionCache r = region;
        uint i = 0;
        for (; i < n; i++)
        {
            Mbuf* m = pkts[i];
            uint pktLen = m->PktLen;
            if (pktLen < threshold) break;
            // SAFETY: avail.Index + i < size: inside the translated descriptor ring; acquire load of the flags first.
            byte* d = descs + ((nuint)i << 4);
            ulong meta = PackedDescriptor.ReadMeta(d);
            if (!PackedDescriptor.IsAvail(meta, availPattern)) break;
            uint len = PackedDescriptor.Len(meta);
            if (!PackedEnqueue.IsInlineCase(meta, m, len, hdr)) break;
            ulong addr = PackedDescriptor.ReadAddr(d);
            byte* dst = r.Translate(addr, len);
            if (dst == null)
            {
                r = RegionCache.ForInline(vq, ColdBurst.PackedWriteNeedsPieces, mem, addr);
                dst = r.Translate(addr, len);
                if (dst == null) break;
            }
            // SAFETY: [dst, dst+len) is writable guest memory inside one region; hdr + pktLen <= len.
            NetHeaderCodec.WritePlain(dst, hdr);
            // SAFETY: i < n <= the pending ring's room before its end.
            pending[i] = new VringUsedElem { Id = (usedPos + i) | ((uint)PackedDescriptor.Id(meta) << 16), Len = pktLen + hdr };
            // SAFETY: i < n <= the engine channel's room and the array's end: the job is inside it and not in flight.
            CopyJob.SetOne(jobs + i, m->Data, dst + hdr, pktLen);
        }
        region = r;
        if (i != 0)
        {
            avail.Advance(i, size);
            used.Advance(i, size);
            q.CommitPackedRun(pkts, i, used);
        }
        return i;
    }
}
