using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Async;

/// <summary>
/// The split ring's async dequeue submit (DPDK's virtio_dev_tx_async_split): the common chain (one readable
/// descriptor in the cached region, plain header, packet fits one mbuf) is handled inline as in
/// <see cref="SplitDequeue"/>; any other is walked with every guard, its virtio-net header read and validated by the
/// CPU, its mbufs allocated and its data cut into (guest → mbuf) segments for the channel, one per overlap of a guest
/// piece and an mbuf segment. Segments shorter than async_threshold are copied by the CPU at once. The chain's used entry
/// (length 0) goes to the queue's pending used ring and reaches the guest only after its copies and those of every
/// earlier chain completed (<see cref="AsyncQueue.Publish"/>): the guest cannot reuse a buffer the channel still
/// reads. Bad chains are counted, their used entries wait in ring order, and the burst goes on with the next chain.
/// The caller holds the access lock and checked the ring is ready.
/// </summary>
[SkipLocalsInit]
internal static unsafe class AsyncSplitDequeue
{
    /// <summary>
    /// Bytes at the start of a packet with offload requests that the CPU copies at once: the Ethernet, IP and L4
    /// headers the offload parse reads (<see cref="NetHeaderCodec.ApplyToMbuf"/>: at most 18 + 60 + 20 bytes), so
    /// the mbuf's offload fields are set at submit and nothing is parsed at completion.
    /// </summary>
    private const uint OffloadHeadBytes = 128;

    private const ushort ShapeFlags = VringDesc.FlagNext | VringDesc.FlagWrite | VringDesc.FlagIndirect;

    /// <summary>Takes up to <paramref name="count"/> available chains and hands their copies to the channel.</summary>
    public static void Submit(VhostDevice dev, Vring vq, AsyncQueue q, GuestMemory mem, MempoolHeader* pool, uint count)
    {
        ulong features = dev.Features;
        uint pending = SplitRing.Begin(vq, features, out _, out ushort lastAvail);
        // The guest can have at most a ring's worth of chains with the device: those taken by earlier bursts and not
        // used yet count (a hostile guest re-offering them gets nothing more).
        uint reserved = q.UsedTail - q.UsedHead;
        uint room = Math.Min(vq.Size, q.UsedCapacity);
        room = room > reserved ? room - reserved : 0;
        uint n = Math.Min(Math.Min(count, pending), Math.Min(room, q.FreeSlots));
        if (n == 0) return;
        SplitScratch s = vq.SplitScratch!;
        byte* descs = vq.Desc;
        ushort* ring = (ushort*)(vq.Avail + SplitRingLayout.AvailRingOffset);
        uint size = vq.Size, mask = size - 1;
        uint hdr = (uint)VirtioNetHeader.SizeFor(features);
        bool offload = (features & DatapathLimits.HostOffloadFeatures) != 0;
        uint threshold = q.Features.Threshold;
        VringUsedElem* shadow = s.Shadow;
        var batch = new BatchCopy(s.Batch, s.BatchCapacity);
        RegionCache region = default;
        uint usedBase = q.UsedTail;
        uint k = 0;
        // A burst starts with a run when its first chain's length says the packet is the engine's (a peek: the run
        // reads it again); the loop below takes what the run left (another shape, a small packet, the ring's wrap).
        // Runs are not tried inside the loop: a call there made the loop spill, which 64 B bursts paid per packet.
        // SAFETY: the index is masked into the translated avail ring; the head is checked before its descriptor is read.
        ushort first = ring[lastAvail & mask];
        if (q.InOrderEngine is { } engine && first < size &&
            SplitDescriptor.Len(*(ulong*)(descs + ((nuint)first << 4) + 8)) >= threshold + hdr)
            k = InlineRun(vq, q, engine, mem, pool, ref region, lastAvail, n, shadow, hdr, offload, threshold, usedBase);
        for (; k < n; k++)
        {
            Mbuf* m = MbufOps.Alloc(pool);
            if (m == null)
            {
                // The pool ran dry: the chain stays available for a later burst.
                vq.Stats.Add(VringStats.MbufAllocFailed, 1);
                break;
            }
            // SAFETY: the index is masked into the translated avail ring; read once into a local.
            ushort head = ring[(ushort)(lastAvail + k) & mask];
            DropReason r = DropReason.DescIndexOutOfRange;
            bool committed = false;
            if (head < size)
            {
                // SAFETY: head < size: the descriptor is inside the translated table; each half is read once.
                SplitDescriptor.Read(descs + ((nuint)head << 4), out ulong addr, out ulong meta);
                uint len = SplitDescriptor.Len(meta);
                byte* src = null;
                // SplitDequeue's inline case: one readable descriptor in the cached region, packet fits the mbuf.
                if ((SplitDescriptor.Flags(meta) & ShapeFlags) == 0 && len > hdr && len - hdr <= (uint)(m->BufLen - m->DataOff))
                {
                    src = region.Translate(addr, len);
                    if (src == null)
                    {
                        region = RegionCache.For(mem, addr);
                        src = region.Translate(addr, len);
                    }
                    // SAFETY: [src, src+len) is inside one mapped region and len > hdr >= 2. Flags and gso_type zero
                    // (or no offload negotiated): a plain header; any other goes the full way (read once there).
                    if (src != null && offload && *(ushort*)src != 0) src = null;
                }
                if (src != null)
                {
                    uint pktLen = len - hdr;
                    m->DataLen = (ushort)pktLen;
                    m->PktLen = pktLen;
                    // One copy: the engine's job holds it (no iters), or the CPU does it (committed done).
                    if (pktLen < threshold || !q.CommitOne(m, src + hdr, m->Data, pktLen, addr + hdr, usedBase + k + 1))
                    {
                        // SAFETY: pktLen <= the mbuf's room; the copy runs before this call publishes anything.
                        batch.AddOnePerChain(m->Data, src + hdr, pktLen);
                        q.CommitCpu(m, usedBase + k + 1);
                    }
                    committed = true;
                    r = DropReason.None;
                }
                else r = Chain(dev, vq, q, mem, pool, addr, meta, hdr, offload, m);
            }
            if (r == DropReason.NoMbuf)
            {
                // A segment could not be had: as above, the chain stays available (its mbufs went back).
                MbufOps.Free(m);
                vq.Stats.Add(VringStats.MbufAllocFailed, 1);
                break;
            }
            // Every consumed chain is returned used with length 0; k < n <= ring size, inside the shadow ring.
            *(ulong*)(shadow + k) = head;
            if (r == DropReason.None)
            {
                if (!committed) q.Commit(m, usedBase + k + 1);
            }
            else
            {
                MbufOps.Free(m);
                vq.Stats.Drop(r);
            }
        }
        vq.LastAvailIdx = (ushort)(lastAvail + k);
        // The CPU's deferred copies out of the guest's buffers run before anything can publish those chains.
        batch.Flush();
        if (k != 0) q.AppendUsed(shadow, k);
        q.Offer();
    }

    /// <summary>Packets a dequeue run takes at most (its mbufs are allocated in one bulk, on the stack's array).</summary>
    private const uint RunMax = 64;

    /// <summary>
    /// The inline case for an in-order built-in engine, as a run (the enqueue's <see cref="AsyncSplitEnqueue"/> twin):
    /// from avail position <paramref name="lastAvail"/> on, every chain of one readable descriptor in a mapped region
    /// with a plain header, whose packet of at least <paramref name="threshold"/> bytes fits an mbuf, gets its mbuf
    /// (allocated in bulk for the run), its used entry (length 0) in the shadow and its engine job; the run's slots
    /// are committed after the loop. It stops, with nothing done for it, at the first chain that is not the case.
    /// The caller calls it only when the first chain's length says its packet is at or over the threshold.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static uint InlineRun(Vring vq, AsyncQueue q, CopyEngineChannel e, GuestMemory mem, MempoolHeader* pool,
        ref RegionCache region, ushort lastAvail, uint n, VringUsedElem* shadow, uint hdr, bool offload, uint threshold,
        uint usedPos)
    {
        uint size = vq.Size, at = lastAvail & (size - 1);
        CopyJob* jobs = e.RunJobs(out uint jobRoom);
        n = Math.Min(Math.Min(n, RunMax), Math.Min(size - at, jobRoom));
        if (n == 0) return 0;
        byte* descs = vq.Desc;
        ushort* ring = (ushort*)(vq.Avail + SplitRingLayout.AvailRingOffset) + at;
        Mbuf** ms = stackalloc Mbuf*[(int)RunMax];
        if (MbufOps.AllocBulk(pool, ms, n) != 0) return 0;
        RegionCache r = region;
        uint i = 0;
        for (; i < n; i++)
        {
            // SAFETY: at + i < size: inside the translated avail ring; read once into a local.
            ushort head = ring[i];
            if (head >= size) break;
            // SAFETY: head < size: the descriptor is inside the translated table; each half is read once.
            SplitDescriptor.Read(descs + ((nuint)head << 4), out ulong addr, out ulong meta);
            uint len = SplitDescriptor.Len(meta);
            if ((SplitDescriptor.Flags(meta) & ShapeFlags) != 0 || len <= hdr) break;
            uint pktLen = len - hdr;
            Mbuf* m = ms[i];
            if (pktLen < threshold || pktLen > (uint)(m->BufLen - m->DataOff)) break;
            byte* src = r.Translate(addr, len);
            if (src == null)
            {
                r = RegionCache.For(mem, addr);
                src = r.Translate(addr, len);
                if (src == null) break;
            }
            // SAFETY: [src, src+len) is inside one mapped region and len > hdr >= 2: flags and gso_type zero (or no
            // offload negotiated) is a plain header; any other chain is the caller's.
            if (offload && *(ushort*)src != 0) break;
            m->DataLen = (ushort)pktLen;
            m->PktLen = pktLen;
            // SAFETY: i < n <= the chains available (the shadow holds a ring's worth).
            *(ulong*)(shadow + i) = head;
            // SAFETY: i < n <= the engine channel's room and the array's end: the job is inside it and not in flight.
            CopyJob.SetOne(jobs + i, src + hdr, m->Data, pktLen);
        }
        region = r;
        if (i != n) MbufOps.FreeBulk(ms + i, n - i);
        if (i != 0) q.CommitRun(ms, i, usedPos);
        return i;
    }

    /// <summary>
    /// Any chain the inline case does not take (its head descriptor already read): walk, header, mbufs, segments into
    /// <paramref name="m"/>. Returns the reason the chain is bad (it is then used and dropped) or
    /// <see cref="DropReason.NoMbuf"/> (the pool ran dry: nothing consumed). On failure the caller frees
    /// <paramref name="m"/> (and the segments chained to it).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason Chain(VhostDevice dev, Vring vq, AsyncQueue q, GuestMemory mem, MempoolHeader* pool,
        ulong addr, ulong meta, uint hdr, bool offload, Mbuf* m)
    {
        SplitScratch s = vq.SplitScratch!;
        BufPiece* vec = s.Vec;
        WalkResult w = SplitChainWalker.Walk(mem, vq.Desc, vq.Size, addr, meta, 0, vec, s.VecCapacity, 0);
        if (w.Reason != DropReason.None) return w.Reason;
        DropReason r = GuestToMbuf.Prepare(dev, vec, w.Count, w.Total, m, hdr, offload, out uint pktLen,
            out VirtioNetHeader h, out bool plain);
        if (r != DropReason.None) return r;
        r = Cut(q, vec, w.Count, hdr, pktLen, m, pool, plain ? 0 : OffloadHeadBytes);
        if (r == DropReason.None && !plain) NetHeaderCodec.ApplyToMbuf(h, m);
        return r;
    }

    /// <summary>
    /// Lays <paramref name="pktLen"/> bytes from byte <paramref name="skip"/> of the pieces into <paramref name="m"/>
    /// (chaining segments from the pool as <see cref="GuestToMbuf.Copy"/> does) and, instead of copying, adds each
    /// overlap of at least async_threshold bytes to the queue's current slot. The first <paramref name="cpuHead"/>
    /// bytes, short overlaps and those beyond the slot's segment grant are copied by the CPU now.
    /// </summary>
    private static DropReason Cut(AsyncQueue q, BufPiece* vec, int nVec, uint skip, uint pktLen, Mbuf* m,
        MempoolHeader* pool, uint cpuHead)
    {
        uint curRoom = (uint)(m->BufLen - m->DataOff);
        // Overlaps of nVec pieces and the mbuf segments: at most nVec + segments - 1.
        uint granted = q.BeginSegments((uint)nVec + pktLen / Math.Max(curRoom, 1) + 1);
        uint threshold = q.Features.Threshold;
        int vi = 0;
        while (vi < nVec && skip >= vec[vi].Len)
        {
            skip -= vec[vi].Len;
            vi++;
        }
        Mbuf* cur = m;
        uint curOff = 0, remain = pktLen, copied = 0;
        ushort segs = 1;
        while (remain != 0 && vi < nVec)
        {
            if (curOff == curRoom)
            {
                Mbuf* seg = MbufOps.Alloc(pool);
                if (seg == null) return DropReason.NoMbuf;   // the caller frees the chain so far
                cur->DataLen = (ushort)curOff;
                cur->Next = seg;
                cur = seg;
                segs++;
                curOff = 0;
                curRoom = (uint)(seg->BufLen - seg->DataOff);
            }
            uint n = Math.Min(Math.Min(vec[vi].Len - skip, curRoom - curOff), remain);
            if (copied < cpuHead) n = Math.Min(n, cpuHead - copied);
            byte* src = vec[vi].Host + skip, dst = cur->Data + curOff;
            if (n >= threshold && granted != 0 && copied >= cpuHead)
            {
                q.AddSegment(src, dst, n, vec[vi].Gpa + skip);
                granted--;
            }
            // SAFETY: skip + n <= vec[vi].Len (guest piece) and curOff + n <= the segment's room.
            else PacketCopy.Copy(dst, src, n);
            curOff += n;
            skip += n;
            remain -= n;
            copied += n;
            if (skip == vec[vi].Len)
            {
                vi++;
                skip = 0;
            }
        }
        cur->DataLen = (ushort)curOff;
        m->NbSegs = segs;
        m->PktLen = pktLen - remain;
        return DropReason.None;
    }
}
