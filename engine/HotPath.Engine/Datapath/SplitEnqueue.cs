using HotPath.Engine.Buffers;
using HotPath.Engine.Memory;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Split-ring enqueue (host → guest RX, DPDK's virtio_dev_rx_split): copies mbufs into the guest's writable
/// buffers. Without MRG_RXBUF each packet takes one chain that must hold header and data; with it a packet takes
/// as many chains as it needs, num_buffers in the first header and one used entry per chain. Running out of guest
/// buffers ends the burst (the caller keeps the rest). Bad chains are returned used with length 0 and counted.
/// The caller holds the access lock and has checked the ring is ready.
/// <para>Shape: the burst loop keeps its state in registers and handles the common case (one-segment mbuf without
/// offload requests into one writable descriptor in the cached memory region, large enough) inline, writing the
/// header and deferring the data copy; every other packet goes through <see cref="SplitEnqueueSlow"/>.</para>
/// </summary>
[SkipLocalsInit]
internal static unsafe class SplitEnqueue
{
    private const ushort ShapeFlags = VringDesc.FlagNext | VringDesc.FlagWrite | VringDesc.FlagIndirect;

    /// <summary>Offload requests that make the header more than zeros (see <see cref="NetHeaderCodec.FromMbuf"/>).</summary>
    private const ulong OffloadRequests =
        MbufOffload.TxL4Mask | MbufOffload.TxTcpSeg | MbufOffload.TxUdpSeg | MbufOffload.TxIpCksum;

    /// <summary>
    /// The inline case as the async submit tests it: one writable descriptor, no NEXT or INDIRECT, of
    /// <paramref name="len"/> bytes holding header and a one-segment packet without offload requests
    /// (pktLen == data_len &lt;= 65535, so pktLen + hdr cannot wrap). <see cref="Burst"/> keeps its own copy of the
    /// test: calling this from its loop changed its register allocation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsInlineCase(ulong meta, Mbuf* m, uint pktLen, uint len, uint hdr) =>
        (SplitDescriptor.Flags(meta) & ShapeFlags) == VringDesc.FlagWrite && m->Next == null &&
        pktLen == m->DataLen && len >= pktLen + hdr && (m->OlFlags & OffloadRequests) == 0;

    /// <summary>A plain header at <paramref name="dst"/>: all zero but num_buffers = 1 (12-byte header) at offset 10.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void WritePlainHeader(byte* dst, uint hdr)
    {
        // SAFETY: the caller checked hdr bytes at dst are writable guest memory.
        *(ulong*)dst = 0;
        if (hdr == VirtioNetHeader.MrgSize) *(uint*)(dst + 8) = 1u << 16;
        else *(ushort*)(dst + 8) = 0;
    }

    public static ushort Run(VhostDevice dev, Vring vq, GuestMemory mem, Mbuf** pkts, uint count) =>
        Burst(dev, vq, mem, pkts, count, uint.MaxValue);

    /// <summary>
    /// <see cref="Run"/> taking at most <paramref name="chains"/> of the available chains: the IOTLB burst's bound
    /// (the chains it checked the IOTLB maps). Running into it is running out of guest buffers.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ushort RunWithin(VhostDevice dev, Vring vq, GuestMemory mem, Mbuf** pkts, uint count, uint chains) =>
        Burst(dev, vq, mem, pkts, count, chains);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Burst(VhostDevice dev, Vring vq, GuestMemory mem, Mbuf** pkts, uint count, uint chains)
    {
        ulong features = dev.Features;
        uint pending = SplitRing.Begin(vq, features, out ushort availIdx, out ushort lastAvail);
        if (pending == 0) return 0;
        if (chains < pending) availIdx = (ushort)(lastAvail + chains);   // never with Run's bound (2^32 - 1)

        SplitScratch s = vq.SplitScratch!;
        byte* descs = vq.Desc;
        ushort* ring = (ushort*)(vq.Avail + SplitRingLayout.AvailRingOffset);
        uint size = vq.Size, mask = size - 1;
        uint hdr = (uint)VirtioNetHeader.SizeFor(features);
        VringUsedElem* shadow = s.Shadow;
        var batch = new BatchCopy(s.Batch, s.BatchCapacity);
        RegionCache region = default;
        uint nShadow = 0;
        uint done = 0;
        for (; done < count; done++)
        {
            if (lastAvail == availIdx) break;   // out of guest buffers: not an error
            Mbuf* m = pkts[done];
            // SAFETY: the index is masked into the translated avail ring; read once into a local.
            ushort head = ring[lastAvail & mask];
            ulong addr = 0, meta = 0;
            if (head < size)
            {
                // SAFETY: head < size: the descriptor is inside the translated table; each half is read once.
                SplitDescriptor.Read(descs + ((nuint)head << 4), out addr, out meta);
                uint pktLen = m->PktLen;
                uint len = SplitDescriptor.Len(meta);
                // One segment holding the whole packet (pktLen == data_len <= 65535, so pktLen + hdr cannot wrap).
                if ((SplitDescriptor.Flags(meta) & ShapeFlags) == VringDesc.FlagWrite && m->Next == null &&
                    pktLen == m->DataLen && len >= pktLen + hdr && (m->OlFlags & OffloadRequests) == 0)
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
                        // A plain header: all zero but num_buffers = 1 (12-byte header) at offset 10.
                        *(ulong*)dst = 0;
                        if (hdr == VirtioNetHeader.MrgSize) *(uint*)(dst + 8) = 1u << 16;
                        else *(ushort*)(dst + 8) = 0;
                        batch.AddOnePerChain(dst + hdr, m->Data, pktLen);
                        // SAFETY: at most `size` chains are consumed per burst; the shadow holds `size` entries.
                        *(ulong*)(shadow + nShadow) = head | ((ulong)(pktLen + hdr) << 32);
                        nShadow++;
                        lastAvail++;
                        continue;
                    }
                }
            }
            EnqueueStep step = SplitEnqueueSlow.Packet(dev, vq, mem, m, head, addr, meta, lastAvail, availIdx, nShadow);
            nShadow = step.NShadow;
            lastAvail = step.LastAvail;
            if (!step.Delivered) break;
        }

        // Every packet byte lands in guest memory before the used entries that hand the buffers over.
        batch.Flush();
        SplitRing.Complete(dev, vq, shadow, nShadow, lastAvail, VirtioFeatures.Has(features, VirtioFeatures.RingEventIdx));
        if (dev.StatsEnabled && done != 0) vq.Stats.CountPackets(pkts, (int)done);
        return (ushort)done;
    }
}
