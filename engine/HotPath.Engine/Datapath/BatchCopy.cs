namespace HotPath.Engine.Datapath;

/// <summary>One deferred copy (DPDK's batch_copy_elem).</summary>
[StructLayout(LayoutKind.Sequential, Size = 24)]
public unsafe struct CopyElem
{
    public byte* Dst;
    public byte* Src;
    public nuint Len;
}

/// <summary>
/// Small copies deferred to the end of a burst (DPDK's batch_copy_elems): the descriptor loop stays tight and
/// the copies then run back to back. Copies above <see cref="MaxLen"/>, or once the array is full, run at once.
/// The array lives in the vring's native scratch; this struct is a view of it held in the burst's locals (never
/// passed by reference, so it stays in registers).
/// Everything queued must be flushed before the used index that covers it is published.
/// </summary>
public unsafe struct BatchCopy
{
    /// <summary>Copies up to this length are deferred (DPDK's MAX_BATCH_LEN).</summary>
    public const uint MaxLen = 256;

    private readonly CopyElem* _start;
    private readonly CopyElem* _end;
    private CopyElem* _next;

    public BatchCopy(CopyElem* elems, int capacity)
    {
        _start = elems;
        _end = elems + capacity;
        _next = elems;
    }

    public readonly int Count => (int)(_next - _start);

    /// <summary>Defers a small copy while there is room; otherwise copies at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(byte* dst, byte* src, uint len)
    {
        if (len <= MaxLen && _next < _end) Defer(dst, src, len);
        else PacketCopy.CopyOutOfLine(dst, src, len);
    }

    /// <summary>
    /// As <see cref="Add"/> for a caller that queues at most one copy per chain it consumes: a burst consumes at most
    /// ring-size chains and the array holds ring-size entries, so there is always room and no check is made.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddOnePerChain(byte* dst, byte* src, uint len)
    {
        Debug.Assert(_next < _end);
        if (len <= MaxLen) Defer(dst, src, len);
        else PacketCopy.CopyOutOfLine(dst, src, len);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Defer(byte* dst, byte* src, uint len)
    {
        // SAFETY: _next < _end, the element is inside the scratch array.
        CopyElem* e = _next++;
        e->Dst = dst;
        e->Src = src;
        e->Len = len;
    }

    /// <summary>Runs every queued copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Flush()
    {
        for (CopyElem* e = _start; e < _next; e++) PacketCopy.Copy(e->Dst, e->Src, e->Len);
        _next = _start;
    }
}
