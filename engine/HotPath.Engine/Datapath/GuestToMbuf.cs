using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Dequeue copy for any chain shape: the bytes of a TX chain's pieces (after the virtio-net header) into an mbuf,
/// chaining more segments from the pool when the packet is larger than one mbuf. Independent of the ring type.
/// Copies run at once (the burst's inline path defers its own small copies).
/// </summary>
internal static unsafe class GuestToMbuf
{
    /// <summary>
    /// A walked TX chain (its pieces <paramref name="vec"/>[0..<paramref name="nVec"/>), <paramref name="total"/>
    /// bytes) into <paramref name="m"/>: length checks, the virtio-net header read once and validated (offloads only
    /// when <paramref name="offload"/>), the linear-buffer rule, the copy (segments from <paramref name="pool"/> as
    /// needed), then the header's offload requests on the mbuf. Shared by the split and packed slow paths. On failure
    /// the mbuf is handed back reset, for the next chain.
    /// </summary>
    public static DropReason Packet(VhostDevice dev, BufPiece* vec, int nVec, ulong total, Mbuf* m, MempoolHeader* pool,
        uint hdr, bool offload)
    {
        DropReason r = Prepare(dev, vec, nVec, total, m, hdr, offload, out uint pktLen, out VirtioNetHeader h, out bool plain);
        if (r != DropReason.None) return r;
        r = Copy(vec, nVec, hdr, pktLen, m, pool);
        if (r != DropReason.None)
        {
            MbufOps.Free(m->Next);
            if ((m->OlFlags & MbufOffload.ExtAttachedMbuf) != 0) ExtBuf.Detach(m);
            MbufOps.Reset(m);
            return r;
        }
        if (!plain) NetHeaderCodec.ApplyToMbuf(h, m);
        return DropReason.None;
    }

    /// <summary>
    /// What a walked TX chain must pass before its bytes move (the synchronous copy's and the async dequeue's): the
    /// lengths, the virtio-net header read once into <paramref name="h"/> and validated (offloads only when
    /// <paramref name="offload"/>; <paramref name="plain"/>: nothing to apply), and the linear-buffer rule (an
    /// external buffer attached to <paramref name="m"/> when EXTBUF allows a larger packet).
    /// </summary>
    public static DropReason Prepare(VhostDevice dev, BufPiece* vec, int nVec, ulong total, Mbuf* m, uint hdr, bool offload,
        out uint pktLen, out VirtioNetHeader h, out bool plain)
    {
        pktLen = 0;
        h = default;
        plain = true;
        if (total <= hdr) return DropReason.ChainTooShort;
        if (total - hdr > DatapathLimits.MaxPacketBytes) return DropReason.PacketTooLarge;
        pktLen = (uint)(total - hdr);
        if (offload)
        {
            // Read once into a local; everything below uses the local (SECURITY.md 15, 16).
            NetHeaderCodec.Read(vec, nVec, (int)hdr, out h);
            plain = NetHeaderCodec.IsPlain(h);
            if (!plain)
            {
                DropReason bad = NetHeaderCodec.Validate(h, pktLen);
                if (bad != DropReason.None) return bad;
            }
        }
        // LINEARBUF: one segment or nothing; with EXTBUF a larger packet gets an external buffer (DPDK's order).
        if (dev.LinearBuffers && pktLen > (uint)(m->BufLen - m->DataOff))
        {
            if (!dev.ExternalBuffers) return DropReason.PacketTooLarge;
            if (!ExtBuf.AttachNew(m, pktLen)) return DropReason.ExtBufAllocFailed;
        }
        return DropReason.None;
    }

    /// <summary>
    /// Copies <paramref name="pktLen"/> bytes from byte <paramref name="skip"/> of the pieces into
    /// <paramref name="m"/> (reset, one segment). On failure (pool empty) the caller frees the segments chained so
    /// far.
    /// </summary>
    public static DropReason Copy(BufPiece* vec, int nVec, uint skip, uint pktLen, Mbuf* m, MempoolHeader* pool)
    {
        int vi = 0;
        while (vi < nVec && skip >= vec[vi].Len)
        {
            skip -= vec[vi].Len;
            vi++;
        }
        Mbuf* cur = m;
        uint curOff = 0;
        uint curRoom = (uint)(m->BufLen - m->DataOff);
        uint remain = pktLen;
        ushort segs = 1;
        while (remain != 0 && vi < nVec)
        {
            if (curOff == curRoom)
            {
                Mbuf* seg = MbufOps.Alloc(pool);
                if (seg == null) return DropReason.NoMbuf;
                cur->DataLen = (ushort)curOff;
                cur->Next = seg;
                cur = seg;
                segs++;
                curOff = 0;
                curRoom = (uint)(seg->BufLen - seg->DataOff);
            }
            uint n = Math.Min(Math.Min(vec[vi].Len - skip, curRoom - curOff), remain);
            // SAFETY: skip + n <= vec[vi].Len (guest piece) and curOff + n <= the segment's room.
            PacketCopy.Copy(cur->Data + curOff, vec[vi].Host + skip, n);
            curOff += n;
            skip += n;
            remain -= n;
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
