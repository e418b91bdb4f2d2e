using HotPath.Engine.Buffers;
using HotPath.Engine.Memory;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Packed-ring enqueue (host → guest RX, DPDK's virtio_dev_rx_packed): copies mbufs into the guest's writable buffers.
/// Without MRG_RXBUF each packet takes one chain that must hold header and data; with it a packet takes as many
/// chains as it needs, num_buffers in the first header and one used entry per chain. Running out of guest buffers
/// ends the burst (the caller keeps the rest). Bad chains are returned used with length 0 and counted. The caller
/// holds the access lock and has checked the ring is ready.
/// <para>Shape: the burst loop keeps its state in registers. At a cache-line boundary with four packets left it tries
/// the batch: four one-segment mbufs without offload requests into four available single writable descriptors, each
/// large enough and in the cached memory region, checked together and written out of line (<see cref="PackedBatch.RxBatches"/>).
/// Otherwise one packet: the common case (one segment into one large-enough writable descriptor) inline, every other
/// through <see cref="PackedEnqueueSlow"/>. The one-packet path's data copies are deferred to the end of the burst; the
/// burst's first used flags are stored after them, which is when the driver sees the burst (<see cref="PackedUsedRing"/>).</para>
/// </summary>
[SkipLocalsInit]
internal static unsafe class PackedEnqueue
{
    private const ushort ShapeFlags = VringPackedDesc.FlagNext | VringPackedDesc.FlagWrite | VringPackedDesc.FlagIndirect;

    public static ushort Run(VhostDevice dev, Vring vq, GuestMemory mem, Mbuf** pkts, uint count)
    {
        ulong features = dev.Features;
        PackedRing.Begin(dev, vq, features, out PackedCursor avail, out PackedCursor used);
        byte* descs = vq.Desc;
        uint size = vq.Size;
        // An empty ring costs one load.
        if (!PackedRing.HeadAvailable(descs, avail)) return 0;

        PackedScratch s = vq.PackedScratch!;
        uint hdr = (uint)VirtioNetHeader.SizeFor(features);
        uint* shadow = s.Shadow;
        uint directFrom = PackedUsedRing.DirectFrom(vq);
        var batch = new BatchCopy(s.Batch, s.BatchCapacity);
        RegionCache region = PackedRing.FirstRegion(vq, ColdBurst.PackedWriteNeedsPieces, mem, PackedDescriptor.At(descs, avail.Index));
        uint nShadow = 0, done = 0, batched = 0;
        // At most one lap of chains per burst: the shadow and the deferred copies hold one entry per chain.
        while (done < count && nShadow < size)
        {
            byte* d = PackedDescriptor.At(descs, avail.Index);
            uint limit = PackedRing.BatchLimit(avail, directFrom, nShadow, size, count - done);
            if (limit != 0)
            {
                // SAFETY: the lines from d on are inside the ring (BatchLimit); used == avail (directFrom), so their
                // slots are the used slots.
                uint k = PackedBatch.RxBatches(d, pkts + done, limit, PackedBatch.Want(avail.Pattern, VringPackedDesc.FlagWrite),
                    hdr, used.Pattern | VringPackedDesc.FlagWrite, nShadow == 0, mem, region);
                if (k != 0)
                {
                    if (nShadow == 0) shadow[0] = PackedUsedRing.Entry(used.Index, used.Pattern | VringPackedDesc.FlagWrite);
                    nShadow += k;
                    done += k;
                    batched += k;
                    avail.Advance(k, size);
                    used.Advance(k, size);
                    if (k == limit) continue;
                    // The line at the new position did not qualify: one chain from there (k < limit: room is left).
                    d = PackedDescriptor.At(descs, avail.Index);
                }
            }

            // One packet. SAFETY: avail.Index < size; acquire load of its flags before anything else of it is read.
            ulong meta = PackedDescriptor.ReadMeta(d);
            if (!PackedDescriptor.IsAvail(meta, avail.Pattern)) break;   // out of guest buffers: not an error
            Mbuf* m = pkts[done];
            uint len = PackedDescriptor.Len(meta);
            // One segment holding the whole packet (pktLen == data_len <= 65535, so pktLen + hdr cannot wrap).
            if ((PackedDescriptor.Flags(meta) & ShapeFlags) == VringPackedDesc.FlagWrite && PackedBatch.OneSegmentPlain(m) &&
                len >= m->PktLen + hdr)
            {
                ulong addr = PackedDescriptor.ReadAddr(d);
                byte* dst = PackedRing.Translate(ref region, vq, ColdBurst.PackedWriteNeedsPieces, mem, addr, len);
                if (dst != null)
                {
                    // SAFETY: [dst, dst+len) is writable guest memory in one region; hdr + pktLen <= len; nShadow < size.
                    Put(ref batch, m, dst, hdr, descs, shadow, nShadow++, directFrom, used.Index, used.Pattern, PackedDescriptor.Id(meta));
                    avail.Advance(1, size);
                    used.Advance(1, size);
                    done++;
                    continue;
                }
            }
            PackedEnqueueStep step = PackedEnqueueSlow.Packet(dev, vq, mem, m, meta, avail, used, nShadow, directFrom);
            avail = step.Avail;
            used = step.Used;
            nShadow = step.NShadow;
            if (!step.Delivered) break;
            done++;
        }

        // Every packet byte lands in guest memory before the used flags that hand the buffers over.
        batch.Flush();
        PackedRing.Complete(dev, vq, mem, shadow, nShadow, directFrom, avail, used, features);
        if (dev.StatsEnabled) PackedRing.CountStats(vq, pkts, done, batched);
        return (ushort)done;
    }

    /// <summary>
    /// The one-packet inline case as the async submit tests it: one writable descriptor, no NEXT or INDIRECT, of
    /// <paramref name="len"/> bytes holding header and a one-segment packet without offload requests (pktLen ==
    /// data_len &lt;= 65535, so pktLen + hdr cannot wrap). <see cref="Run"/> keeps its own copy of the test: calling
    /// this from its loop changed its machine code (627 instructions to 630, registers reallocated).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsInlineCase(ulong meta, Mbuf* m, uint len, uint hdr) =>
        (PackedDescriptor.Flags(meta) & ShapeFlags) == VringPackedDesc.FlagWrite && PackedBatch.OneSegmentPlain(m) &&
        len >= m->PktLen + hdr;

    /// <summary>
    /// A one-piece packet into the buffer at <paramref name="dst"/>: plain header now, data copy deferred, used entry
    /// (header + data bytes) at <paramref name="usedIndex"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(ref BatchCopy batch, Mbuf* m, byte* dst,
        uint hdr, byte* descs, uint* shadow, uint n, uint directFrom, uint usedIndex, uint usedPattern, ushort id)
    {
        uint pktLen = m->PktLen;
        NetHeaderCodec.WritePlain(dst, hdr);
        batch.AddOnePerChain(dst + hdr, m->Data, pktLen);
        PackedUsedRing.Add(descs, shadow, n, directFrom, usedIndex, usedPattern, id, pktLen + hdr);
    }

}
