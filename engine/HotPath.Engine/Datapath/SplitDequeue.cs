using System.Runtime.CompilerServices;
using HotPath.Engine.Buffers;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Split-ring dequeue (guest TX → host mbufs, DPDK's virtio_dev_tx_split): each available chain becomes one packet
/// in an mbuf from the pool (a segment chain when larger than one mbuf), with the virtio-net header's offload
/// requests turned into mbuf TX flags. Every consumed chain is returned used (length 0, the device writes nothing);
/// bad chains are counted by reason and the burst goes on with the next one. The caller holds the access lock and
/// has checked the ring is ready.
/// </summary>
[SkipLocalsInit]
internal static unsafe class SplitDequeue
{
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

        var c = new SplitBurst(vq, mem, features);
        bool offload = (features & DatapathLimits.HostOffloadFeatures) != 0;
        bool linear = dev.LinearBuffers;
        uint hdr = c.HeaderSize;
        uint got = 0;
        for (uint k = 0; k < n; k++)
        {
            // SAFETY: the index is masked into the translated avail ring; read once into a local.
            ushort head = c.AvailRing[lastAvail & c.Mask];
            lastAvail++;
            c.Used(head, 0);
            int nVec = 0;
            DropReason r = SplitRing.Walk(c.Mem, c.Descs, c.Size, head, 0, c.Vec, c.VecCap, ref nVec, out ulong total);
            if (r == DropReason.None) r = ToMbuf(ref c, pkts[got], nVec, total, hdr, pool, offload, linear, dev.ExternalBuffers);
            if (r == DropReason.None) got++;
            else c.Stats.Drop(r);
        }
        if (got != n) MbufOps.FreeBulk(pkts + got, n - got);

        c.Complete(dev, vq, lastAvail);
        if (dev.StatsEnabled && got != 0) vq.Stats.CountPackets(pkts, (int)got);
        return (ushort)got;
    }

    /// <summary>One walked chain into <paramref name="m"/>: header checks, linear-buffer rule, copy, offloads.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason ToMbuf(ref SplitBurst c, Mbuf* m, int nVec, ulong total, uint hdr, MempoolHeader* pool,
        bool offload, bool linear, bool external)
    {
        if (total <= hdr) return DropReason.ChainTooShort;
        if (total - hdr > DatapathLimits.MaxPacketBytes) return DropReason.PacketTooLarge;
        uint pktLen = (uint)(total - hdr);
        VirtioNetHeader h = default;
        bool plain = true;
        if (offload)
        {
            // Read once into a local; everything below uses the local (SECURITY.md 15, 16).
            NetHeaderCodec.Read(c.Vec, nVec, (int)hdr, out h);
            plain = NetHeaderCodec.IsPlain(h);
            if (!plain)
            {
                DropReason bad = NetHeaderCodec.Validate(h, pktLen);
                if (bad != DropReason.None) return bad;
            }
        }
        if (linear && pktLen > (uint)(m->BufLen - m->DataOff))
            return external ? DropReason.ExtBufAllocFailed : DropReason.PacketTooLarge;
        int mark = c.Batch.Count;
        DropReason r = GuestToMbuf.Copy(c.Vec, nVec, hdr, pktLen, m, pool, ref c.Batch, firstNow: !plain);
        if (r != DropReason.None)
        {
            c.Batch.Truncate(mark);
            MbufOps.Free(m->Next);
            MbufOps.Reset(m);
            return r;
        }
        if (!plain) NetHeaderCodec.ApplyToMbuf(h, m);
        return DropReason.None;
    }
}
