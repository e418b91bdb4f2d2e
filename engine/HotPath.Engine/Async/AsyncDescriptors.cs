namespace HotPath.Engine.Async;

/// <summary>struct iovec: one host-contiguous range.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct IoVec
{
    public void* Base;
    public nuint Len;
}

/// <summary>
/// struct hp_vhost_iov_iter (the seed's rte_vhost_iov_iter): <see cref="NrSegs"/> iovecs holding <see cref="Count"/>
/// bytes from <see cref="Offset"/> on (HotPath always passes offset 0).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct AsyncIovIter
{
    public nuint Offset;
    public nuint Count;
    public IoVec* Iov;
    public nuint NrSegs;
}

/// <summary>
/// struct hp_vhost_async_desc: the copies of one packet. HotPath cuts them so that <c>Src->Iov[k].Len ==
/// Dst->Iov[k].Len</c> for every k and both iters have the same number of segments: copy k is (src, dst, len).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct AsyncDesc
{
    public AsyncIovIter* Src;
    public AsyncIovIter* Dst;
}

/// <summary>
/// struct hp_vhost_async_status: opaque packet tokens, used by out-of-order channels only (null for in-order ones).
/// In TransferData <see cref="DstOpaqueData"/> holds one token per desc; in CheckCompletedCopies the channel writes
/// the tokens of the packets it completed there. <see cref="SrcOpaqueData"/> is unused (null).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct AsyncStatus
{
    public nuint* DstOpaqueData;
    public nuint* SrcOpaqueData;
}
