using HotPath.Engine.Buffers;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Enqueue copy: the bytes of an mbuf chain into the writable guest pieces of one packet, after the virtio-net
/// header. Independent of the ring type. Writes never leave the pieces: the copy stops at the packet length, at
/// the end of the pieces, or at the end of the segment chain, whichever comes first (a malformed mbuf chain from
/// the application cannot make it write outside what the guest marked writable). Used by the enqueue slow path;
/// copies run at once.
/// </summary>
internal static unsafe class MbufToGuest
{
    /// <summary>
    /// Writes one whole packet: the virtio-net header (offloads from the mbuf, <paramref name="numBuffers"/> for
    /// MRG_RXBUF) in the first <paramref name="hdr"/> bytes, then the data. Returns the bytes written, header included.
    /// </summary>
    public static uint WritePacket(Mbuf* m, ushort numBuffers, BufPiece* vec, int nVec, uint hdr)
    {
        NetHeaderCodec.FromMbuf(m, numBuffers, out VirtioNetHeader h);
        NetHeaderCodec.Write(vec, (int)hdr, h);
        return hdr + Copy(m, m->PktLen, vec, nVec, hdr);
    }

    /// <summary>
    /// Copies up to <paramref name="pktLen"/> bytes of <paramref name="m"/> into <paramref name="vec"/>[0..nVec) from
    /// byte <paramref name="offset"/> of the pieces on, at once. Returns the number of bytes copied.
    /// </summary>
    public static uint Copy(Mbuf* m, uint pktLen, BufPiece* vec, int nVec, uint offset)
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
                PacketCopy.Copy(vec[vi].Host + offset, src, n);
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
