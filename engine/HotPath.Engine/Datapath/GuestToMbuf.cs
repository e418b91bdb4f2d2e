using System.Runtime.CompilerServices;
using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Dequeue copy: the bytes of a TX chain's pieces (after the virtio-net header) into an mbuf, chaining more
/// segments from the pool when the packet is larger than one mbuf. Independent of the ring type. Small copies are
/// deferred into the burst's <see cref="BatchCopy"/>, except the first segment's when the caller needs the packet
/// headers at once (offload parsing).
/// </summary>
internal static unsafe class GuestToMbuf
{
    /// <summary>
    /// Copies <paramref name="pktLen"/> bytes from byte <paramref name="skip"/> of the pieces into
    /// <paramref name="m"/> (reset, one segment). On failure (pool empty) the caller frees the segments chained so
    /// far and discards the copies queued since it took its mark.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Copy(BufPiece* vec, int nVec, uint skip, uint pktLen, Mbuf* m, MempoolHeader* pool,
        ref BatchCopy batch, bool firstNow)
    {
        uint room = (uint)(m->BufLen - m->DataOff);
        if (vec->Len >= skip && vec->Len - skip >= pktLen && room >= pktLen && !firstNow)
        {
            // Common case: header and data in one piece, packet fits one mbuf.
            // SAFETY: skip + pktLen <= vec[0].Len (readable guest piece); pktLen <= the mbuf's room.
            batch.Add(m->Data, vec->Host + skip, pktLen);
            m->DataLen = (ushort)pktLen;
            m->PktLen = pktLen;
            return DropReason.None;
        }
        return CopySlow(vec, nVec, skip, pktLen, m, pool, ref batch, firstNow);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason CopySlow(BufPiece* vec, int nVec, uint skip, uint pktLen, Mbuf* m, MempoolHeader* pool,
        ref BatchCopy batch, bool firstNow)
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
            if (firstNow && cur == m) PacketCopy.Copy(cur->Data + curOff, vec[vi].Host + skip, n);
            else batch.Add(cur->Data + curOff, vec[vi].Host + skip, n);
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
