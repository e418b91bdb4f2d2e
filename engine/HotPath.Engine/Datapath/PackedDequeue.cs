using HotPath.Engine.Buffers;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Packed-ring dequeue (guest TX → host mbufs, DPDK's virtio_dev_tx_packed): each available chain becomes one packet
/// in an mbuf from the pool (a segment chain when larger than one mbuf), with the net header's offload requests
/// turned into mbuf TX flags. Every consumed chain is returned used (length 0: the device writes nothing); bad chains
/// are counted by reason and the burst goes on with the next one. The caller holds the access lock and has checked
/// the ring is ready.
/// <para>Shape: the burst loop keeps its state in registers. At a cache-line boundary with four packets wanted it
/// tries the batch: four available single readable descriptors whose packets fit one mbuf each, in the cached memory
/// region, with plain headers, checked together and taken out of line (<see cref="PackedBatch.TxBatches"/>). Otherwise one chain:
/// the common one (single descriptor, cached region, plain header, fits one mbuf) inline, every other shape through
/// <see cref="Slow"/> (full walker, copies at once). The one-chain path's copies are deferred to the end of the burst;
/// the burst's first used flags are stored after them, which is when the driver sees the burst (<see cref="PackedUsedRing"/>).</para>
/// </summary>
[SkipLocalsInit]
internal static unsafe class PackedDequeue
{
    private const ushort ShapeFlags = VringPackedDesc.FlagNext | VringPackedDesc.FlagWrite | VringPackedDesc.FlagIndirect;

    public static ushort Run(VhostDevice dev, Vring vq, GuestMemory mem, MempoolHeader* pool, Mbuf** pkts, uint count)
    {
        ulong features = dev.Features;
        PackedRing.Begin(dev, vq, features, out PackedCursor avail, out PackedCursor used);
        byte* descs = vq.Desc;
        uint size = vq.Size;
        uint n = PackedRing.CountAvailable(descs, size, avail, count);
        if (n == 0) return 0;
        if (MbufOps.AllocBulk(pool, pkts, n) != 0)
        {
            vq.Stats.Add(VringStats.MbufAllocFailed, n);
            return 0;
        }

        PackedScratch s = vq.PackedScratch!;
        uint hdr = (uint)VirtioNetHeader.SizeFor(features);
        bool offload = (features & DatapathLimits.HostOffloadFeatures) != 0;
        // Every mbuf of the pool, just reset, has the same room after its headroom.
        uint room = (uint)(pkts[0]->BufLen - pkts[0]->DataOff);
        uint* shadow = s.Shadow;
        uint directFrom = PackedUsedRing.DirectFrom(vq);
        var batch = new BatchCopy(s.Batch, s.BatchCapacity);
        RegionCache region = PackedRing.FirstRegion(vq, ColdBurst.PackedReadNeedsPieces, mem, PackedDescriptor.At(descs, avail.Index));
        uint nShadow = 0, got = 0, batched = 0;
        // At most one lap of chains per burst: the shadow and the deferred copies hold one entry per chain.
        while (got < n && nShadow < size)
        {
            byte* d = PackedDescriptor.At(descs, avail.Index);
            uint limit = PackedRing.BatchLimit(avail, directFrom, nShadow, size, n - got);
            if (limit != 0)
            {
                // SAFETY: the lines from d on are inside the ring (BatchLimit); used == avail (directFrom), so their
                // slots are the used slots.
                uint k = PackedBatch.TxBatches(d, pkts + got, limit, PackedBatch.Want(avail.Pattern, 0), hdr, room, offload,
                    used.Pattern, nShadow == 0, mem, region);
                if (k != 0)
                {
                    if (nShadow == 0) shadow[0] = PackedUsedRing.Entry(used.Index, used.Pattern);
                    nShadow += k;
                    got += k;
                    batched += k;
                    avail.Advance(k, size);
                    used.Advance(k, size);
                    if (k == limit) continue;
                    // The line at the new position did not qualify: one chain from there (k < limit: room is left).
                    d = PackedDescriptor.At(descs, avail.Index);
                }
            }

            // One chain. SAFETY: avail.Index < size; acquire load of its flags before anything else of it is read.
            ulong meta = PackedDescriptor.ReadMeta(d);
            if (!PackedDescriptor.IsAvail(meta, avail.Pattern)) break;
            Mbuf* m = pkts[got];
            uint len = PackedDescriptor.Len(meta);
            // hdr < len <= hdr + room, unsigned: a length at or below the header wraps around and fails.
            if ((PackedDescriptor.Flags(meta) & ShapeFlags) == 0 && len - hdr - 1 < room)
            {
                byte* src = PackedRing.Translate(ref region, vq, ColdBurst.PackedReadNeedsPieces, mem, PackedDescriptor.ReadAddr(d), len);
                // SAFETY: [src, src+len) is inside one mapped region and len > hdr >= 2.
                if (src != null && (!offload || *(ushort*)src == 0))
                {
                    Take(ref batch, m, src + hdr, len - hdr);
                    PackedUsedRing.Add(descs, shadow, nShadow++, directFrom, used.Index, used.Pattern, PackedDescriptor.Id(meta), 0);
                    avail.Advance(1, size);
                    used.Advance(1, size);
                    got++;
                    continue;
                }
            }
            PackedStep step = Slow(dev, vq, mem, avail, meta, m, pool, hdr, offload);
            PackedUsedRing.Add(descs, shadow, nShadow++, directFrom, used.Index, used.Pattern, step.Id, 0);
            avail.Advance(step.Descs, size);
            used.Advance(step.Descs, size);
            if (step.Reason == DropReason.None) got++;
            else vq.Stats.Drop(step.Reason);
        }
        if (got != n) MbufOps.FreeBulk(pkts + got, n - got);

        // The guest may reuse its buffers as soon as it sees them used: the copies out of them run first.
        batch.Flush();
        PackedRing.Complete(dev, vq, mem, shadow, nShadow, directFrom, avail, used, features);
        if (dev.StatsEnabled) PackedRing.CountStats(vq, pkts, got, batched);
        return (ushort)got;
    }

    /// <summary>A one-piece packet: its copy deferred, the mbuf's lengths set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take(ref BatchCopy batch, Mbuf* m, byte* src, uint pktLen)
    {
        // SAFETY: pktLen <= the mbuf's room (checked by the caller).
        batch.AddOnePerChain(m->Data, src, pktLen);
        m->DataLen = (ushort)pktLen;
        m->PktLen = pktLen;
    }


    /// <summary>
    /// Any chain the inline paths do not take (with inflight tracking on, every chain: <see cref="ColdBurst"/>): the
    /// full walk with every guard (which also finds where the chain ends, bad or not), then the shared tail of dequeue
    /// (<see cref="GuestToMbuf.Packet"/>). Copies run at once. The IOTLB burst takes every chain this way.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static PackedStep Slow(VhostDevice dev, Vring vq, GuestMemory mem, PackedCursor head, ulong meta, Mbuf* m,
        MempoolHeader* pool, uint hdr, bool offload)
    {
        PackedScratch s = vq.PackedScratch!;
        // The head's meta word as the burst read it (not read again); a non-plain header is read once downstream.
        PackedWalk w = PackedChainWalker.Walk(mem, vq.Desc, vq.Size, head, meta, 0, s.Vec, s.VecCapacity, 0);
        // Every chain walked here is returned used by the burst, good or bad.
        ColdBurst.Taken(vq, head.Index, w.Descs);
        DropReason r = w.Reason == DropReason.None ? GuestToMbuf.Packet(dev, s.Vec, w.Count, w.Total, m, pool, hdr, offload) : w.Reason;
        return new PackedStep(w.Descs, w.Id, r);
    }
}
