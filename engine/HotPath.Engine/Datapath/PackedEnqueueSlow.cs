using HotPath.Engine.Buffers;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Packed enqueue of one packet the inline paths did not take: any chain shape (walked with every guard),
/// multi-segment mbufs, offload headers, mergeable buffers. Bad chains met on the way are dropped, counted and
/// returned used with length 0. The packet is written through a sink: the synchronous one copies at once
/// (<see cref="PackedSyncSink"/>), the async enqueue's writes the header and hands the data copies to its channel.
/// </summary>
internal static unsafe class PackedEnqueueSlow
{
    private const ushort Write = VringPackedDesc.FlagWrite;

    /// <summary>
    /// Places <paramref name="m"/> starting with the chain at <paramref name="avail"/>, whose head the burst already
    /// read (<paramref name="meta"/>) and found available. The burst has room for at least one more chain.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static PackedEnqueueStep Packet(VhostDevice dev, Vring vq, GuestMemory mem, Mbuf* m, ulong meta,
        PackedCursor avail, PackedCursor used, uint nShadow, uint directFrom) =>
        Place<PackedSyncSink>(dev, vq, mem, m, meta, avail, used, nShadow, vq.Size, directFrom);

    /// <summary>
    /// <see cref="Packet"/> taking no chain past shadow entry <paramref name="limit"/> (at most the ring size): the IOTLB
    /// burst's bound, the chains it checked the IOTLB maps. Running into it is running out of buffers. Every used
    /// entry's flags wait for the burst's publication (<see cref="PackedUsedRing.DirectNever"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static PackedEnqueueStep PacketWithin(VhostDevice dev, Vring vq, GuestMemory mem, Mbuf* m, ulong meta,
        PackedCursor avail, PackedCursor used, uint nShadow, uint limit) =>
        Place<PackedSyncSink>(dev, vq, mem, m, meta, avail, used, nShadow, limit, PackedUsedRing.DirectNever);

    /// <summary>
    /// <see cref="PacketWithin"/> writing through <typeparamref name="TSink"/> (the async enqueue: <c>AsyncPackedSink</c>):
    /// every used entry's flags wait in the shadow, the id and length are written in place.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static PackedEnqueueStep PacketThrough<TSink>(VhostDevice dev, Vring vq, GuestMemory mem, Mbuf* m, ulong meta,
        PackedCursor avail, PackedCursor used, uint nShadow, uint limit) where TSink : struct, IPackedEnqueueSink =>
        Place<TSink>(dev, vq, mem, m, meta, avail, used, nShadow, limit, PackedUsedRing.DirectNever);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static PackedEnqueueStep Place<TSink>(VhostDevice dev, Vring vq, GuestMemory mem, Mbuf* m, ulong meta,
        PackedCursor avail, PackedCursor used, uint nShadow, uint limit, uint directFrom) where TSink : struct, IPackedEnqueueSink
    {
        Debug.Assert(limit <= vq.Size && nShadow < limit);
        ulong features = dev.Features;
        var c = new PackedBurst(dev, vq, mem, features, avail, used, nShadow, limit, directFrom);
        bool delivered = VirtioFeatures.Has(features, VirtioFeatures.NetMrgRxbuf) ? Mergeable<TSink>(ref c, m, meta) : Single<TSink>(ref c, m, meta);
        return new PackedEnqueueStep(c.Avail, c.Used, c.NShadow, delivered);
    }

    /// <summary>One chain per packet: bad chains are dropped until one that fits; a valid one too small stops.</summary>
    private static bool Single<TSink>(ref PackedBurst c, Mbuf* m, ulong meta) where TSink : struct, IPackedEnqueueSink
    {
        uint hdr = c.HeaderSize;
        ulong need = (ulong)m->PktLen + hdr;
        for (bool first = true; ; first = false)
        {
            // Out of guest buffers, or a lap of chains taken in this burst: not an error.
            if (c.Room == 0 || (!first && !c.TryHead(out meta))) return false;
            PackedWalk w = c.Walk(meta, Write, 0);
            DropReason r = w.Reason;
            if (r == DropReason.None)
            {
                if (w.Total >= need)
                {
                    c.Taken(w);
                    uint written = TSink.Write(ref c, m, 1, w.Count);
                    c.Use(w.Id, written, w.Descs);
                    TSink.Written(ref c, w.Count, written);
                    c.Avail.Advance(w.Descs, c.Size);
                    return true;
                }
                if (w.Total >= hdr) return false;   // a valid buffer too small for this packet: leave it
                r = DropReason.ChainTooShort;
            }
            c.Taken(w);
            c.Drop(r, w.Id, w.Descs);
            c.Avail.Advance(w.Descs, c.Size);
        }
    }

    /// <summary>As many chains as the packet needs (MRG_RXBUF); nothing is consumed unless the whole packet fits.</summary>
    private static bool Mergeable<TSink>(ref PackedBurst c, Mbuf* m, ulong meta) where TSink : struct, IPackedEnqueueSink
    {
        uint hdr = c.HeaderSize;
        ulong remaining = (ulong)m->PktLen + hdr;
        PackedCursor mark = c.Avail;
        uint takenMark = ColdBurst.TakenMark(c.Vq);
        int nVec = 0;
        uint nGood = 0, nBad = 0;
        for (bool first = true; remaining != 0; first = false)
        {
            if (nGood + nBad >= c.Room || (!first && !c.TryHead(out meta)))
            {
                // Not enough buffers for the whole packet: give back everything this packet reserved (bad chains
                // after its first buffer too: they are met and counted when the guest has posted more buffers).
                c.Avail = mark;
                ColdBurst.Untake(c.Vq, takenMark);
                return false;
            }
            int chainStart = nVec;
            PackedWalk w = c.Walk(meta, Write, nVec);
            // Taken in ring order as walked; given back with the reservation if the packet does not fit.
            c.Taken(w);
            DropReason r = w.Reason;
            // Every mergeable buffer must hold at least a header (virtio 5.1.6.3.1).
            if (r == DropReason.None && w.Total < hdr) r = DropReason.ChainTooShort;
            c.Avail.Advance(w.Descs, c.Size);
            if (r != DropReason.None)
            {
                nVec = chainStart;
                if (nGood == 0)
                {
                    // In front of the packet: dropped for good right away, the reservation starts after it.
                    c.Drop(r, w.Id, w.Descs);
                    mark = c.Avail;
                    takenMark = ColdBurst.TakenMark(c.Vq);
                    continue;
                }
                // Between the packet's buffers: counted only if the packet commits (else met again later).
                // SAFETY: nGood + nBad < Room <= Size; PendingBad holds Size entries.
                c.PendingBad[nBad++] = PackedBurst.Pending(w.Id, w.Descs, (uint)r);
                continue;
            }
            nVec = w.Count;
            uint len = (uint)Math.Min(w.Total, remaining);
            // SAFETY: as above; PendingUsed holds Size entries.
            c.PendingUsed[nGood++] = PackedBurst.Pending(w.Id, w.Descs, len);
            remaining -= len;
        }
        // Committed. The packet's buffers first, then the bad chains, so that these never sit between the used
        // entries the driver joins by num_buffers.
        for (uint i = 0; i < nGood; i++)
        {
            ulong e = c.PendingUsed[i];
            c.Use((ushort)e, (uint)(e >> 32), (ushort)(e >> 16));
        }
        for (uint i = 0; i < nBad; i++)
        {
            ulong e = c.PendingBad[i];
            c.Drop((DropReason)(e >> 32), (ushort)e, (ushort)(e >> 16));
        }
        uint written = TSink.Write(ref c, m, (ushort)nGood, nVec);
        TSink.Written(ref c, nVec, written);
        return true;
    }
}
