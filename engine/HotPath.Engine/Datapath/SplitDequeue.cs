using System.Runtime.Intrinsics.X86;
using HotPath.Engine.Buffers;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Split-ring dequeue (guest TX → host mbufs, DPDK's virtio_dev_tx_split): each available chain becomes one packet
/// in an mbuf from the pool (a segment chain when larger than one mbuf), with the virtio-net header's offload
/// requests turned into mbuf TX flags. Every consumed chain is returned used (length 0: the device writes nothing);
/// bad chains are counted by reason and the burst goes on with the next one. The caller holds the access lock and
/// has checked the ring is ready.
/// <para>Shape: the burst loop keeps its state in registers and handles the common chain (one readable descriptor
/// in the cached memory region, plain header, packet fits one mbuf) inline, deferring its copy; every other chain
/// goes through <see cref="SlowChain"/> (full walker, copies at once).</para>
/// </summary>
[SkipLocalsInit]
internal static unsafe class SplitDequeue
{
    private const ushort ShapeFlags = VringDesc.FlagNext | VringDesc.FlagWrite | VringDesc.FlagIndirect;

    public static ushort Run(VhostDevice dev, Vring vq, GuestMemory mem, MempoolHeader* pool, Mbuf** pkts, uint count)
    {
        ulong features = dev.Features;
        uint pending = SplitRing.Begin(vq, features, out _, out ushort lastAvail);
        if (pending == 0) return 0;
        uint n = Math.Min(count, pending);
        if (MbufOps.AllocBulk(pool, pkts, n) != 0)
        {
            vq.Stats.Add(VringStats.MbufAllocFailed, n);
            return 0;
        }

        SplitScratch s = vq.SplitScratch!;
        byte* descs = vq.Desc;
        ushort* ring = (ushort*)(vq.Avail + SplitRingLayout.AvailRingOffset);
        uint size = vq.Size, mask = size - 1;
        uint hdr = (uint)VirtioNetHeader.SizeFor(features);
        bool offload = (features & DatapathLimits.HostOffloadFeatures) != 0;
        VringUsedElem* shadow = s.Shadow;
        var batch = new BatchCopy(s.Batch, s.BatchCapacity);
        RegionCache region = default;
        uint got = 0;
        for (uint k = 0; k < n; k++)
        {
            // SAFETY: the index is masked into the translated avail ring; read once into a local.
            ushort head = ring[(ushort)(lastAvail + k) & mask];
            // Every consumed chain is returned used with length 0; k < n <= size, inside the shadow ring.
            *(ulong*)(shadow + k) = head;
            Mbuf* m = pkts[got];
            DropReason r;
            if (head < size)
            {
                // SAFETY: head < size: the descriptor is inside the translated table; each half is read once.
                SplitDescriptor.Read(descs + ((nuint)head << 4), out ulong addr, out ulong meta);
                uint len = SplitDescriptor.Len(meta);
                uint pktLen = len - hdr;
                if ((SplitDescriptor.Flags(meta) & ShapeFlags) == 0 && len > hdr && pktLen <= (uint)(m->BufLen - m->DataOff))
                {
                    byte* src = region.Translate(addr, len);
                    if (src == null)
                    {
                        region = RegionCache.For(mem, addr);
                        src = region.Translate(addr, len);
                    }
                    if (src != null)
                    {
                        // The data is read at the end of the burst: start pulling it in.
                        if (Sse.IsSupported) Sse.Prefetch0(src + hdr);
                        // SAFETY: [src, src+len) is inside one mapped region and len > hdr >= 2. Peek at flags and
                        // gso_type: zero (or no offload negotiated) means a plain header, nothing to parse.
                        if (!offload || *(ushort*)src == 0)
                        {
                            // SAFETY: pktLen <= the mbuf's room.
                            batch.AddOnePerChain(m->Data, src + hdr, pktLen);
                            m->DataLen = (ushort)pktLen;
                            m->PktLen = pktLen;
                            got++;
                            continue;
                        }
                        r = OffloadPacket(m, src, len, hdr);
                        if (r == DropReason.None) got++;
                        else vq.Stats.Drop(r);
                        continue;
                    }
                }
                r = SlowChain(dev, vq, mem, addr, meta, m, pool, hdr, offload);
            }
            else r = DropReason.DescIndexOutOfRange;
            if (r == DropReason.None) got++;
            else vq.Stats.Drop(r);
        }
        if (got != n) MbufOps.FreeBulk(pkts + got, n - got);

        // The guest may reuse its buffers as soon as it sees them used: the copies out of them run first.
        batch.Flush();
        SplitRing.Complete(dev, vq, shadow, n, (ushort)(lastAvail + n), VirtioFeatures.Has(features, VirtioFeatures.RingEventIdx));
        if (dev.StatsEnabled && got != 0) vq.Stats.CountPackets(pkts, (int)got);
        return (ushort)got;
    }

    /// <summary>
    /// A one-descriptor chain whose header asks for offloads (checksum, GSO: what a guest with CSUM/TSO negotiated
    /// sends most of the time): the header is read once from the buffer, checked against the packet, the packet
    /// copied at once (the offload parse needs its headers) and the requests turned into mbuf flags.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason OffloadPacket(Mbuf* m, byte* src, uint len, uint hdr)
    {
        var piece = new BufPiece(src, 0, len);   // read only: its guest address is never needed
        NetHeaderCodec.Read(&piece, 1, (int)hdr, out VirtioNetHeader h);
        uint pktLen = len - hdr;
        DropReason bad = NetHeaderCodec.Validate(h, pktLen);
        if (bad != DropReason.None) return bad;
        // SAFETY: [src, src+len) is inside one mapped region; pktLen <= the mbuf's room (checked by the caller).
        PacketCopy.Copy(m->Data, src + hdr, pktLen);
        m->DataLen = (ushort)pktLen;
        m->PktLen = pktLen;
        if (!NetHeaderCodec.IsPlain(h)) NetHeaderCodec.ApplyToMbuf(h, m);
        return DropReason.None;
    }

    /// <summary>
    /// Any chain the inline path does not take: full walk with every guard, header checks and offloads, the
    /// linear-buffer rule, segment chains. Copies run at once. On failure the mbuf is handed back reset, for the next
    /// chain.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason SlowChain(VhostDevice dev, Vring vq, GuestMemory mem, ulong addr, ulong meta, Mbuf* m,
        MempoolHeader* pool, uint hdr, bool offload)
    {
        SplitScratch s = vq.SplitScratch!;
        BufPiece* vec = s.Vec;
        // The head descriptor as the inline path read it (not read again); a non-plain header is read here once.
        WalkResult w = SplitChainWalker.Walk(mem, vq.Desc, vq.Size, addr, meta, 0, vec, s.VecCapacity, 0);
        if (w.Reason != DropReason.None) return w.Reason;
        return GuestToMbuf.Packet(dev, vec, w.Count, w.Total, m, pool, hdr, offload);
    }
}
