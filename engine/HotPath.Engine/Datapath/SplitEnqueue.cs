using System.Runtime.CompilerServices;
using HotPath.Engine.Buffers;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Split-ring enqueue (host → guest RX, DPDK's virtio_dev_rx_split): copies mbufs into the guest's writable
/// buffers. Without MRG_RXBUF each packet takes one chain that must hold header and data; with it a packet takes
/// as many chains as it needs, num_buffers in the first header and one used entry per chain. Running out of guest
/// buffers ends the burst (the caller keeps the rest). Bad chains are returned used with length 0 and counted.
/// The caller holds the access lock and has checked the ring is ready.
/// </summary>
[SkipLocalsInit]
internal static unsafe class SplitEnqueue
{
    public static ushort Run(VhostDevice dev, Vring vq, GuestMemory mem, Mbuf** pkts, uint count)
    {
        ulong features = dev.Features;
        if (SplitRing.Begin(vq, features, out ushort availIdx, out ushort lastAvail) == 0) return 0;

        var ctx = new SplitBurst(vq, mem, features);
        uint done = VirtioFeatures.Has(features, VirtioFeatures.NetMrgRxbuf)
            ? RunMergeable(ref ctx, pkts, count, ref lastAvail, availIdx)
            : RunSingle(ref ctx, pkts, count, ref lastAvail, availIdx);

        ctx.Complete(dev, vq, lastAvail);
        if (dev.StatsEnabled && done != 0) vq.Stats.CountPackets(pkts, (int)done);
        return (ushort)done;
    }

    /// <summary>One chain per packet.</summary>
    private static uint RunSingle(ref SplitBurst c, Mbuf** pkts, uint count, ref ushort lastAvail, ushort availIdx)
    {
        uint hdr = c.HeaderSize;
        uint done = 0;
        for (; done < count; done++)
        {
            Mbuf* m = pkts[done];
            ulong need = (ulong)m->PktLen + hdr;
            ushort head;
            int nVec;
            while (true)
            {
                if (lastAvail == availIdx) return done;   // out of guest buffers: not an error
                // SAFETY: the index is masked into the translated avail ring; read once into a local.
                head = c.AvailRing[lastAvail & c.Mask];
                nVec = 0;
                DropReason r = SplitRing.Walk(c.Mem, c.Descs, c.Size, head, VringDesc.FlagWrite, c.Vec, c.VecCap, ref nVec, out ulong cap);
                if (r == DropReason.None)
                {
                    if (cap >= need) break;
                    if (cap >= hdr) return done;            // a valid buffer too small for this packet: leave it
                    r = DropReason.ChainTooShort;
                }
                c.DropChain(r, head);
                lastAvail++;
            }
            NetHeaderCodec.FromMbuf(m, 1, out VirtioNetHeader h);
            NetHeaderCodec.Write(c.Vec, (int)hdr, h);
            uint copied = MbufToGuest.Copy(m, m->PktLen, c.Vec, nVec, hdr, ref c.Batch);
            c.Used(head, hdr + copied);
            lastAvail++;
        }
        return done;
    }

    /// <summary>As many chains per packet as it needs (MRG_RXBUF).</summary>
    private static uint RunMergeable(ref SplitBurst c, Mbuf** pkts, uint count, ref ushort lastAvail, ushort availIdx)
    {
        uint hdr = c.HeaderSize;
        uint done = 0;
        for (; done < count; done++)
        {
            Mbuf* m = pkts[done];
            ulong remaining = (ulong)m->PktLen + hdr;
            uint markShadow = c.NShadow;
            ushort markAvail = lastAvail;
            int nVec = 0;
            uint numBuffers = 0, nBad = 0;
            while (remaining != 0)
            {
                if (lastAvail == availIdx)
                {
                    // Not enough buffers for the whole packet: give back everything this packet reserved (bad chains
                    // after its first buffer too: they are met and counted when the guest has posted more buffers).
                    c.NShadow = markShadow;
                    lastAvail = markAvail;
                    return done;
                }
                // SAFETY: the index is masked into the translated avail ring; read once into a local.
                ushort head = c.AvailRing[lastAvail & c.Mask];
                int chainStart = nVec;
                DropReason r = SplitRing.Walk(c.Mem, c.Descs, c.Size, head, VringDesc.FlagWrite, c.Vec, c.VecCap, ref nVec, out ulong cap);
                // Every mergeable buffer must hold at least a header (virtio 5.1.6.3.1).
                if (r == DropReason.None && cap < hdr) r = DropReason.ChainTooShort;
                lastAvail++;
                if (r != DropReason.None)
                {
                    nVec = chainStart;
                    if (numBuffers == 0)
                    {
                        // In front of the packet: dropped for good right away, the reservation starts after it.
                        c.DropChain(r, head);
                        markShadow = c.NShadow;
                        markAvail = lastAvail;
                        continue;
                    }
                    // Between the packet's buffers: counted only if the packet commits (else met again later).
                    // SAFETY: at most Size chains are consumed per burst; Pending holds Size entries.
                    c.Pending[nBad++] = head | ((uint)r << 16);
                    continue;
                }
                uint len = (uint)Math.Min(cap, remaining);
                c.Used(head, len);
                remaining -= len;
                numBuffers++;
            }
            // Committed. Bad chains go after the packet's own entries, so they never sit between the buffers the
            // guest joins by num_buffers.
            if (nBad != 0) c.DropPending(nBad);
            NetHeaderCodec.FromMbuf(m, (ushort)numBuffers, out VirtioNetHeader h);
            NetHeaderCodec.Write(c.Vec, (int)hdr, h);
            MbufToGuest.Copy(m, m->PktLen, c.Vec, nVec, hdr, ref c.Batch);
        }
        return done;
    }
}
