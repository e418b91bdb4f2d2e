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
/// large enough and in the cached memory region, checked together (<see cref="PackedBatch"/>) before any is written.
/// Otherwise one packet: the common case (one segment into one large-enough writable descriptor) inline, every other
/// through <see cref="PackedEnqueueSlow"/>. Inline data copies are deferred to the end of the burst; used flags are
/// published once, after them (<see cref="PackedUsedRing"/>).</para>
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
        var batch = new BatchCopy(s.Batch, s.BatchCapacity);
        RegionCache region = default;
        uint nShadow = 0, done = 0, batched = 0;
        // At most one lap of chains per burst: the shadow and the deferred copies hold one entry per chain.
        while (done < count && nShadow < size)
        {
            byte* d = PackedDescriptor.At(descs, avail.Index);
            if (PackedRing.CanBatch(avail, used, nShadow, size, count - done))
            {
                Mbuf* b0 = pkts[done], b1 = pkts[done + 1], b2 = pkts[done + 2], b3 = pkts[done + 3];
                // SAFETY: avail.Index + 4 <= size (CanBatch): the four descriptors are inside the translated ring.
                // Each meta word is one acquire load (the flags that say "available" and the len/id they publish).
                ulong m0 = PackedDescriptor.ReadMeta(d), m1 = PackedDescriptor.ReadMeta(d + 16),
                    m2 = PackedDescriptor.ReadMeta(d + 32), m3 = PackedDescriptor.ReadMeta(d + 48);
                if (OneSegmentPlain(b0) & OneSegmentPlain(b1) & OneSegmentPlain(b2) & OneSegmentPlain(b3) &&
                    PackedBatch.RxFits(m0, m1, m2, m3, PackedBatch.Want(avail.Pattern, VringPackedDesc.FlagWrite),
                        b0->PktLen + hdr, b1->PktLen + hdr, b2->PktLen + hdr, b3->PktLen + hdr))
                {
                    // Addresses after the flags (the acquires above), each read once; whole buffers translated.
                    ulong a0 = PackedDescriptor.ReadAddr(d);
                    byte* t0 = PackedRing.Translate(ref region, vq, ColdBurst.PackedWriteNeedsPieces, mem, a0, PackedDescriptor.Len(m0));
                    ulong a1 = PackedDescriptor.ReadAddr(d + 16);
                    byte* t1 = PackedRing.Translate(ref region, vq, ColdBurst.PackedWriteNeedsPieces, mem, a1, PackedDescriptor.Len(m1));
                    ulong a2 = PackedDescriptor.ReadAddr(d + 32);
                    byte* t2 = PackedRing.Translate(ref region, vq, ColdBurst.PackedWriteNeedsPieces, mem, a2, PackedDescriptor.Len(m2));
                    ulong a3 = PackedDescriptor.ReadAddr(d + 48);
                    byte* t3 = PackedRing.Translate(ref region, vq, ColdBurst.PackedWriteNeedsPieces, mem, a3, PackedDescriptor.Len(m3));
                    if (t0 != null && t1 != null && t2 != null && t3 != null)
                    {
                        // SAFETY (all four): [t, t+len) is writable guest memory in one region and len >= pktLen + hdr;
                        // used.Index + 4 <= size and nShadow + 4 <= size (CanBatch).
                        Put(ref batch, b0, t0, hdr, descs, shadow, nShadow, used.Index, used.Pattern, PackedDescriptor.Id(m0));
                        Put(ref batch, b1, t1, hdr, descs, shadow, nShadow + 1, used.Index + 1, used.Pattern, PackedDescriptor.Id(m1));
                        Put(ref batch, b2, t2, hdr, descs, shadow, nShadow + 2, used.Index + 2, used.Pattern, PackedDescriptor.Id(m2));
                        Put(ref batch, b3, t3, hdr, descs, shadow, nShadow + 3, used.Index + 3, used.Pattern, PackedDescriptor.Id(m3));
                        nShadow += PackedRing.BatchSize;
                        done += PackedRing.BatchSize;
                        batched += PackedRing.BatchSize;
                        avail.Advance(PackedRing.BatchSize, size);
                        used.Advance(PackedRing.BatchSize, size);
                        continue;
                    }
                }
            }

            // One packet. SAFETY: avail.Index < size; acquire load of its flags before anything else of it is read.
            ulong meta = PackedDescriptor.ReadMeta(d);
            if (!PackedDescriptor.IsAvail(meta, avail.Pattern)) break;   // out of guest buffers: not an error
            Mbuf* m = pkts[done];
            uint len = PackedDescriptor.Len(meta);
            // One segment holding the whole packet (pktLen == data_len <= 65535, so pktLen + hdr cannot wrap).
            if ((PackedDescriptor.Flags(meta) & ShapeFlags) == VringPackedDesc.FlagWrite && OneSegmentPlain(m) &&
                len >= m->PktLen + hdr)
            {
                ulong addr = PackedDescriptor.ReadAddr(d);
                byte* dst = PackedRing.Translate(ref region, vq, ColdBurst.PackedWriteNeedsPieces, mem, addr, len);
                if (dst != null)
                {
                    // SAFETY: [dst, dst+len) is writable guest memory in one region; hdr + pktLen <= len; nShadow < size.
                    Put(ref batch, m, dst, hdr, descs, shadow, nShadow++, used.Index, used.Pattern, PackedDescriptor.Id(meta));
                    avail.Advance(1, size);
                    used.Advance(1, size);
                    done++;
                    continue;
                }
            }
            PackedEnqueueStep step = PackedEnqueueSlow.Packet(dev, vq, mem, m, meta, avail, used, nShadow);
            avail = step.Avail;
            used = step.Used;
            nShadow = step.NShadow;
            if (!step.Delivered) break;
            done++;
        }

        // Every packet byte lands in guest memory before the used flags that hand the buffers over.
        batch.Flush();
        PackedRing.Complete(dev, vq, mem, shadow, nShadow, avail, used, features);
        if (dev.StatsEnabled) PackedRing.CountStats(vq, pkts, done, batched);
        return (ushort)done;
    }

    /// <summary>A one-segment mbuf without offload requests: its header is all zero and one copy moves it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool OneSegmentPlain(Mbuf* m) =>
        m->Next == null & m->PktLen == m->DataLen & (m->OlFlags & NetHeaderCodec.MbufOffloadRequests) == 0;

    /// <summary>
    /// A one-piece packet into the buffer at <paramref name="dst"/>: plain header now, data copy deferred, used entry
    /// (header + data bytes) at <paramref name="usedIndex"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(ref BatchCopy batch, Mbuf* m, byte* dst,
        uint hdr, byte* descs, uint* shadow, uint n, uint usedIndex, uint usedPattern, ushort id)
    {
        uint pktLen = m->PktLen;
        NetHeaderCodec.WritePlain(dst, hdr);
        batch.AddOnePerChain(dst + hdr, m->Data, pktLen);
        PackedUsedRing.Add(descs, shadow, n, usedIndex, usedPattern, id, pktLen + hdr);
    }

}
