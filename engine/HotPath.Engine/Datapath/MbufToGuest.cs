using System.Diagnostics;
using System.Runtime.CompilerServices;
using HotPath.Engine.Buffers;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Enqueue copy: the bytes of an mbuf chain into the writable guest pieces of one packet, after the virtio-net
/// header. Independent of the ring type. Writes never leave the pieces: the copy stops at the packet length, at
/// the end of the pieces, or at the end of the segment chain, whichever comes first (a malformed mbuf chain from
/// the application cannot make it write outside what the guest marked writable).
/// </summary>
internal static unsafe class MbufToGuest
{
    /// <summary>
    /// Copies up to <paramref name="pktLen"/> bytes of <paramref name="m"/> into <paramref name="vec"/>[0..nVec) from
    /// byte <paramref name="offset"/> of the pieces on. Small copies are deferred into <paramref name="batch"/>.
    /// Returns the number of bytes copied.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Copy(Mbuf* m, uint pktLen, BufPiece* vec, int nVec, uint offset, ref BatchCopy batch)
    {
        // Common case: one segment and room for it in the piece that holds the header.
        if (m->Next == null && vec->Len >= offset && vec->Len - offset >= m->DataLen)
        {
            uint n = Math.Min(m->DataLen, pktLen);
            // SAFETY: offset + n <= vec[0].Len: inside the first writable piece.
            batch.Add(vec->Host + offset, m->Data, n);
            return n;
        }
        return CopyChain(m, pktLen, vec, nVec, offset, ref batch);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static uint CopyChain(Mbuf* m, uint pktLen, BufPiece* vec, int nVec, uint offset, ref BatchCopy batch)
    {
        int vi = 0;
        while (vi < nVec && offset >= vec[vi].Len)
        {
            offset -= vec[vi].Len;
            vi++;
        }
        uint remain = pktLen;
        uint copied = 0;
        int segs = 0;
        for (Mbuf* seg = m; seg != null && remain != 0 && segs <= ushort.MaxValue; seg = seg->Next, segs++)
        {
            byte* src = seg->Data;
            uint left = Math.Min(seg->DataLen, remain);
            while (left != 0)
            {
                if (vi >= nVec) return copied;
                Debug.Assert(offset < vec[vi].Len);
                uint n = Math.Min(vec[vi].Len - offset, left);
                // SAFETY: offset + n <= vec[vi].Len: inside one writable piece.
                batch.Add(vec[vi].Host + offset, src, n);
                src += n;
                left -= n;
                remain -= n;
                copied += n;
                offset += n;
                if (offset == vec[vi].Len)
                {
                    vi++;
                    offset = 0;
                }
            }
        }
        return copied;
    }
}
