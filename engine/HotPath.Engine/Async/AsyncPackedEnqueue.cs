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
        for (; done < count && nShadow < room; done++)
        {
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
                    if (pktLen < threshold || !q.CommitOne(m, dst + hdr, pktLen, addr + hdr, usedBase + nShadow))
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
}
