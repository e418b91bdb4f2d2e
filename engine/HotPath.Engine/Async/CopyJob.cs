namespace HotPath.Engine.Async;

/// <summary>
/// One packet's copies as the built-in engine carries them: the iters vhost handed over (valid until completion), or
/// for a packet of one copy (the split submit's inline case) the copy itself; the packet's token, and the completion
/// counter of the channel it came from. In the channel's native job array; the engine's ring carries batches of
/// consecutive jobs (<see cref="Count"/>), not one pointer per packet.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CopyJob
{
    /// <summary>The packet's copies; null: the one copy <see cref="SrcBuf"/>, <see cref="DstBuf"/>, <see cref="Len"/>.</summary>
    public AsyncIovIter* Src;
    public AsyncIovIter* Dst;
    public byte* SrcBuf;
    public byte* DstBuf;
    public nuint Len;
    public nuint Token;
    /// <summary>The channel's count of completed jobs: the copy thread alone writes it (release), the poller reads it.</summary>
    public uint* Completed;
    /// <summary>Set on the first job of a batch handed to the engine: the batch is this job and the next Count - 1 in
    /// the channel's array (a batch never wraps it).</summary>
    public uint Count;

    /// <summary>Makes <paramref name="j"/> the one copy of <paramref name="len"/> bytes from <paramref name="src"/> to
    /// <paramref name="dst"/> (no iters).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetOne(CopyJob* j, byte* src, byte* dst, uint len)
    {
        j->Src = null;
        j->SrcBuf = src;
        j->DstBuf = dst;
        j->Len = len;
    }

    /// <summary>
    /// Copies the iters' bytes: the two sides may be cut differently, the copy walks both; it stops at the shorter
    /// side. Returns the bytes copied.
    /// </summary>
    public static ulong Run(CopyJob* job)
    {
        if (job->Src != null) return Run(job->Src, job->Dst);
        // SAFETY: the submitter guarantees both ranges valid until the packet completes.
        Datapath.PacketCopy.Copy(job->DstBuf, job->SrcBuf, job->Len);
        return job->Len;
    }

    private static ulong Run(AsyncIovIter* src, AsyncIovIter* dst)
    {
        nuint si = 0, di = 0, so = src->Offset, dOff = dst->Offset;
        ulong total = 0;
        while (si < src->NrSegs && di < dst->NrSegs)
        {
            IoVec s = src->Iov[si], d = dst->Iov[di];
            if (so >= s.Len) { si++; so = 0; continue; }
            if (dOff >= d.Len) { di++; dOff = 0; continue; }
            nuint n = Math.Min(s.Len - so, d.Len - dOff);
            // SAFETY: both ranges lie inside an iovec the submitter guarantees valid until the packet completes.
            Datapath.PacketCopy.Copy((byte*)d.Base + dOff, (byte*)s.Base + so, n);
            so += n;
            dOff += n;
            total += n;
        }
        return total;
    }
}
