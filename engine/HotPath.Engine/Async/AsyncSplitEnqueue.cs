using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Engine.Memory;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Async;

/// <summary>
/// The split ring's async enqueue submit (the seed's virtio_dev_rx_async_submit_split): each packet's chains are
/// walked and reserved (the synchronous burst's inline case inline, any other by the enqueue slow path writing through
/// <see cref="AsyncSink"/>), its used entries go to the
/// queue's pending used ring, and the burst's copies go to the channel in one transfer_data. Packets whose bytes the
/// CPU wrote entirely are published at the end of the burst if nothing before them waits for the channel. The
/// synchronous burst (<see cref="SplitEnqueue"/>) is untouched. The caller holds the access lock and checked the ring is ready.
/// </summary>
[SkipLocalsInit]
internal static unsafe class AsyncSplitEnqueue
{
    public static ushort Submit(VhostDevice dev, Vring vq, AsyncQueue q, GuestMemory mem, Mbuf** pkts, uint count)
    {
        uint pending = SplitRing.Begin(vq, dev.Features, out ushort availIdx, out ushort lastAvail);
        // The guest can have at most a ring's worth of chains with the device: those reserved by earlier submits and
        // not published yet count (a hostile guest re-offering them gets nothing more).
        uint reserved = q.UsedTail - q.UsedHead;
        uint room = Math.Min(vq.Size, q.UsedCapacity);
        room = room > reserved ? room - reserved : 0;
        if (pending > room) availIdx = (ushort)(lastAvail + room);
        count = Math.Min(count, q.FreeSlots);

        SplitScratch s = vq.SplitScratch!;
        byte* descs = vq.Desc;
        ushort* ring = (ushort*)(vq.Avail + SplitRingLayout.AvailRingOffset);
        uint size = vq.Size, mask = size - 1;
        uint hdr = (uint)VirtioNetHeader.SizeFor(dev.Features);
        uint threshold = q.Features.Threshold;
        VringUsedElem* shadow = s.Shadow;
        var batch = new BatchCopy(s.Batch, s.BatchCapacity);
        RegionCache region = default;
        uint usedBase = q.UsedTail;
        uint nShadow = 0;
        uint done = 0;
        CopyEngineChannel? engine = q.InOrderEngine;
        for (; done < count; done++)
        {
            if (lastAvail == availIdx) break;   // out of guest buffers (or of room): not an error
            Mbuf* m = pkts[done];
            if (engine != null && m->PktLen >= threshold)
            {
                uint k = InlineRun(vq, q, engine, mem, ref region, pkts + done, count - done, lastAvail, availIdx,
                    shadow + nShadow, hdr, threshold, usedBase + nShadow);
                if (k != 0)
                {
                    done += k - 1;
                    nShadow += k;
                    lastAvail += (ushort)k;
                    continue;
                }
                engine = null;   // not the inline case (or the channel is full): no more runs tried in this burst
            }
            // SAFETY: the index is masked into the translated avail ring; read once into a local.
            ushort head = ring[lastAvail & mask];
            ulong addr = 0, meta = 0;
            if (head < size)
            {
                // SAFETY: head < size: the descriptor is inside the translated table; each half is read once.
                SplitDescriptor.Read(descs + ((nuint)head << 4), out addr, out meta);
                uint pktLen = m->PktLen;
                uint len = SplitDescriptor.Len(meta);
                // The synchronous burst's inline case (SplitEnqueue): one writable descriptor holding a one-segment
                // packet without offload requests, in the cached region (never while logging: ForInline).
                if (SplitEnqueue.IsInlineCase(meta, m, pktLen, len, hdr))
                {
                    byte* dst = region.Translate(addr, len);
                    if (dst == null)
                    {
                        region = RegionCache.ForInline(vq, ColdBurst.SplitWriteNeedsPieces, mem, addr);
                        dst = region.Translate(addr, len);
                    }
                    if (dst != null)
                    {
                        // SAFETY: [dst, dst+len) is writable guest memory inside one region; hdr + pktLen <= len.
                        SplitEnqueue.WritePlainHeader(dst, hdr);
                        // SAFETY: at most `size` chains are consumed per burst; the shadow holds `size` entries.
                        *(ulong*)(shadow + nShadow) = head | ((ulong)(pktLen + hdr) << 32);
                        nShadow++;
                        lastAvail++;
                        if (pktLen < threshold || !q.CommitOne(m, m->Data, dst + hdr, pktLen, addr + hdr, usedBase + nShadow))
                        {
                            batch.AddOnePerChain(dst + hdr, m->Data, pktLen);
                            q.CommitCpu(m, usedBase + nShadow);
                        }
                        continue;
                    }
                }
            }
            EnqueueStep step = SplitEnqueueSlow.PacketThrough<AsyncSink>(dev, vq, mem, m, head, addr, meta, lastAvail, availIdx, nShadow);
            nShadow = step.NShadow;
            lastAvail = step.LastAvail;
            if (!step.Delivered) break;
            q.Commit(m, usedBase + nShadow);
        }
        vq.LastAvailIdx = lastAvail;
        // The CPU's small copies land before anything that may publish them (this burst's Publish below).
        batch.Flush();
        if (nShadow != 0) q.AppendUsed(shadow, nShadow);
        q.Offer();
        q.Publish();
        return (ushort)done;
    }

    /// <summary>
    /// The inline case for an in-order built-in engine, as a run: from <paramref name="pkts"/>[0] on, every packet of
    /// at least <paramref name="threshold"/> bytes that is the inline case gets its header, its shadow used entry and
    /// its engine job here, in a loop that keeps only that in registers; the run's slots are committed after it
    /// (<see cref="AsyncQueue.CommitRun"/>). It stops, with nothing done for it, at the first packet that is not (the
    /// caller's loop takes that one) and at the engine channel's room. Returns the packets taken: each took one chain
    /// and one shadow entry.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static uint InlineRun(Vring vq, AsyncQueue q, CopyEngineChannel e, GuestMemory mem, ref RegionCache region,
        Mbuf** pkts, uint n, ushort lastAvail, ushort availIdx, VringUsedElem* shadow, uint hdr, uint threshold, uint usedPos)
    {
        // A run wraps neither the avail ring nor the job array (the caller's loop starts another): fewer live values.
        uint size = vq.Size, at = lastAvail & (size - 1);
        CopyJob* jobs = e.RunJobs(out uint jobRoom);
        n = Math.Min(Math.Min(n, (ushort)(availIdx - lastAvail)), Math.Min(size - at, jobRoom));
        byte* descs = vq.Desc;
        ushort* ring = (ushort*)(vq.Avail + SplitRingLayout.AvailRingOffset) + at;
        RegionCache r = region;
        uint i = 0;
        for (; i < n; i++)
        {
            Mbuf* m = pkts[i];
            uint pktLen = m->PktLen;
            if (pktLen < threshold) break;
            // SAFETY: at + i < size: inside the translated avail ring; read once into a local.
            ushort head = ring[i];
            if (head >= size) break;
            // SAFETY: head < size: the descriptor is inside the translated table; each half is read once.
            SplitDescriptor.Read(descs + ((nuint)head << 4), out ulong addr, out ulong meta);
            uint len = SplitDescriptor.Len(meta);
            if (!SplitEnqueue.IsInlineCase(meta, m, pktLen, len, hdr)) break;
            byte* dst = r.Translate(addr, len);
            if (dst == null)
            {
                r = RegionCache.ForInline(vq, ColdBurst.SplitWriteNeedsPieces, mem, addr);
                dst = r.Translate(addr, len);
                if (dst == null) break;
            }
            // SAFETY: [dst, dst+len) is writable guest memory inside one region; hdr + pktLen <= len; i < n <= the
            // chains available, so the shadow (a ring's worth) has room.
            SplitEnqueue.WritePlainHeader(dst, hdr);
            *(ulong*)(shadow + i) = head | ((ulong)(pktLen + hdr) << 32);
            // SAFETY: i < n <= the engine channel's room and the array's end: the job is inside it and not in flight.
            CopyJob.SetOne(jobs + i, m->Data, dst + hdr, pktLen);
        }
        region = r;
        if (i != 0) q.CommitRun(pkts, i, usedPos);
        return i;
    }
}
