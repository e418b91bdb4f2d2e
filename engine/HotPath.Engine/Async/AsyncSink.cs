using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Async;

/// <summary>
/// How the async enqueue writes a packet the slow path placed (<see cref="SplitEnqueueSlow.PacketThrough{TSink}"/>):
/// the header by the CPU now (and marked dirty), the data as (src, dst, len) segments of the queue's current slot,
/// one per overlap of an mbuf segment and a guest piece. Copies shorter than async_threshold, and those of a packet
/// the segment arena has no room for, are done by the CPU now. Writes never leave the pieces (as MbufToGuest.Copy).
/// </summary>
internal unsafe struct AsyncSink : IEnqueueSink
{
    /// <summary>Nothing left to mark: the header and the CPU's copies were marked as they were written, the channel's
    /// copies are marked when they complete (<see cref="AsyncQueue.Publish"/>).</summary>
    public static void Written(ref SplitBurst c, int nVec, uint written) { }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Write(ref SplitBurst c, Mbuf* m, ushort numBuffers, int nVec) =>
        WritePieces(c.Vq, c.Stats, c.Vec, nVec, c.HeaderSize, m, numBuffers);

    /// <summary>
    /// The body of <see cref="Write"/>, shared with the packed ring's sink (<see cref="AsyncPackedSink"/>): header and
    /// data of <paramref name="m"/> into <paramref name="vec"/>[0..nVec) of <paramref name="vq"/>'s async queue.
    /// </summary>
    public static uint WritePieces(Vring vq, VringStats stats, BufPiece* vec, int nVec, uint hdr, Mbuf* m, ushort numBuffers)
    {
        AsyncQueue q = vq.Async!;
        NetHeaderCodec.FromMbuf(m, numBuffers, out VirtioNetHeader h);
        NetHeaderCodec.Write(vec, (int)hdr, h);
        ColdBurst.Written(vq, vec, nVec, hdr);
        uint granted = q.BeginSegments((uint)nVec + m->NbSegs);
        Logging.DirtyLog? log = vq.ActiveLog;
        uint threshold = q.Features.Threshold;

        uint offset = hdr;
        int vi = 0;
        while (vi < nVec && offset >= vec[vi].Len)
        {
            offset -= vec[vi].Len;
            vi++;
        }
        uint remain = m->PktLen, copied = 0;
        int segs = 0;
        for (Mbuf* seg = m; seg != null && remain != 0 && segs <= ushort.MaxValue; seg = seg->Next, segs++)
        {
            byte* src = seg->Data;
            uint left = Math.Min(seg->DataLen, remain);
            while (left != 0)
            {
                if (vi >= nVec) return hdr + copied;
                uint n = Math.Min(vec[vi].Len - offset, left);
                byte* dst = vec[vi].Host + offset;
                if (n >= threshold && granted != 0)
                {
                    q.AddSegment(src, dst, n, vec[vi].Gpa + offset);
                    granted--;
                }
                else
                {
                    // SAFETY: offset + n <= vec[vi].Len: inside one writable piece.
                    PacketCopy.Copy(dst, src, n);
                    if (log != null) stats.Add(VringStats.LogPagesMarked, log.MarkRange(vec[vi].Gpa + offset, n));
                }
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
        return hdr + copied;
    }
}
