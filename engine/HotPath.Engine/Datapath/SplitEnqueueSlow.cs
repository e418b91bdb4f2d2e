using HotPath.Engine.Buffers;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Enqueue of one packet the inline path did not take: any chain shape (walked with every guard), multi-segment
/// mbufs, offload headers, mergeable buffers. Bad chains met on the way are dropped, counted and returned used with
/// length 0. The packet is written through a sink: the synchronous one copies at once (<see cref="SyncSink"/>), the
/// async enqueue's writes the header and hands the data copies to its channel.
/// </summary>
internal static unsafe class SplitEnqueueSlow
{
    /// <summary>
    /// Places <paramref name="m"/> starting with the chain at <paramref name="head"/>, whose descriptor the inline
    /// path already read (<paramref name="addr"/>, <paramref name="meta"/>; meaningless when head is out of range).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static EnqueueStep Packet(VhostDevice dev, Vring vq, GuestMemory mem, Mbuf* m, ushort head, ulong addr,
        ulong meta, ushort lastAvail, ushort availIdx, uint nShadow)
    {
        // The body of PacketThrough<SyncSink>, spelled out: forwarding to it (inlined) cost the synchronous burst a
        // copy of lastAvail per call.
        ulong features = dev.Features;
        var c = new SplitBurst(dev, vq, mem, features, nShadow);
        var first = new FirstChain(head, addr, meta);
        bool delivered = VirtioFeatures.Has(features, VirtioFeatures.NetMrgRxbuf)
            ? Mergeable<SyncSink>(ref c, m, first, ref lastAvail, availIdx)
            : Single<SyncSink>(ref c, m, first, ref lastAvail, availIdx);
        return new EnqueueStep(c.NShadow, lastAvail, delivered);
    }

    /// <summary><see cref="Packet"/> writing through <typeparamref name="TSink"/> (the async enqueue: <c>AsyncSink</c>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static EnqueueStep PacketThrough<TSink>(VhostDevice dev, Vring vq, GuestMemory mem, Mbuf* m, ushort head,
        ulong addr, ulong meta, ushort lastAvail, ushort availIdx, uint nShadow) where TSink : struct, IEnqueueSink
    {
        ulong features = dev.Features;
        var c = new SplitBurst(dev, vq, mem, features, nShadow);
        var first = new FirstChain(head, addr, meta);
        bool delivered = VirtioFeatures.Has(features, VirtioFeatures.NetMrgRxbuf)
            ? Mergeable<TSink>(ref c, m, first, ref lastAvail, availIdx)
            : Single<TSink>(ref c, m, first, ref lastAvail, availIdx);
        return new EnqueueStep(c.NShadow, lastAvail, delivered);
    }

    /// <summary>The first chain's head as the inline path read it.</summary>
    private readonly struct FirstChain(ushort head, ulong addr, ulong meta)
    {
        public readonly ushort Head = head;
        public readonly ulong Addr = addr, Meta = meta;
    }

    /// <summary>
    /// Walks the chain at the current avail position: the first one from what the inline path read, later ones read
    /// here (once each).
    /// </summary>
    private static WalkResult WalkNext(ref SplitBurst c, ref bool useFirst, in FirstChain first, ushort lastAvail,
        out ushort head, int nVec)
    {
        if (useFirst)
        {
            useFirst = false;
            head = first.Head;
            if (head >= c.Size) return WalkResult.Bad(DropReason.DescIndexOutOfRange);
            return SplitChainWalker.Walk(c.Mem, c.Descs, c.Size, first.Addr, first.Meta, VringDesc.FlagWrite, c.Vec, c.VecCap, nVec);
        }
        // SAFETY: the index is masked into the translated avail ring; read once into a local.
        head = c.AvailRing[lastAvail & c.Mask];
        return SplitRing.Walk(c.Mem, c.Descs, c.Size, head, VringDesc.FlagWrite, c.Vec, c.VecCap, nVec);
    }

    /// <summary>One chain per packet: bad chains are dropped until one that fits; a valid one too small stops.</summary>
    private static bool Single<TSink>(ref SplitBurst c, Mbuf* m, in FirstChain first, ref ushort lastAvail, ushort availIdx)
        where TSink : struct, IEnqueueSink
    {
        uint hdr = c.HeaderSize;
        ulong need = (ulong)m->PktLen + hdr;
        bool useFirst = true;
        while (true)
        {
            if (lastAvail == availIdx) return false;   // out of guest buffers: not an error
            WalkResult w = WalkNext(ref c, ref useFirst, first, lastAvail, out ushort head, 0);
            DropReason r = w.Reason;
            if (r == DropReason.None)
            {
                if (w.Total >= need)
                {
                    uint written = TSink.Write(ref c, m, 1, w.Count);
                    c.Used(head, written);
                    TSink.Written(ref c, w.Count, written);
                    lastAvail++;
                    return true;
                }
                if (w.Total >= hdr) return false;   // a valid buffer too small for this packet: leave it
                r = DropReason.ChainTooShort;
            }
            c.DropChain(r, head);
            lastAvail++;
        }
    }

    /// <summary>As many chains as the packet needs (MRG_RXBUF); nothing is consumed unless the whole packet fits.</summary>
    private static bool Mergeable<TSink>(ref SplitBurst c, Mbuf* m, in FirstChain first, ref ushort lastAvail, ushort availIdx)
        where TSink : struct, IEnqueueSink
    {
        uint hdr = c.HeaderSize;
        ulong remaining = (ulong)m->PktLen + hdr;
        uint markShadow = c.NShadow;
        ushort markAvail = lastAvail;
        int nVec = 0;
        uint numBuffers = 0, nBad = 0;
        bool useFirst = true;
        while (remaining != 0)
        {
            if (lastAvail == availIdx)
            {
                // Not enough buffers for the whole packet: give back everything this packet reserved (bad chains
                // after its first buffer too: they are met and counted when the guest has posted more buffers).
                c.NShadow = markShadow;
                lastAvail = markAvail;
                return false;
            }
            int chainStart = nVec;
            WalkResult w = WalkNext(ref c, ref useFirst, first, lastAvail, out ushort head, nVec);
            DropReason r = w.Reason;
            // Every mergeable buffer must hold at least a header (virtio 5.1.6.3.1).
            if (r == DropReason.None && w.Total < hdr) r = DropReason.ChainTooShort;
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
            nVec = w.Count;
            uint len = (uint)Math.Min(w.Total, remaining);
            c.Used(head, len);
            remaining -= len;
            numBuffers++;
        }
        // Committed. Bad chains go after the packet's own entries, so they never sit between the buffers the
        // guest joins by num_buffers.
        if (nBad != 0) c.DropPending(nBad);
        uint written = TSink.Write(ref c, m, (ushort)numBuffers, nVec);
        TSink.Written(ref c, nVec, written);
        return true;
    }
}
