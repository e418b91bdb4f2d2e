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
