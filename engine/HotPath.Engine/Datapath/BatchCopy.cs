using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
/// The array lives in the vring's native scratch; this struct is a by-ref view of it used within one burst.
/// Everything queued must be flushed before the used index that covers it is published.
/// </summary>
public unsafe struct BatchCopy
{
    /// <summary>Copies up to this length are deferred (DPDK's MAX_BATCH_LEN).</summary>
    public const uint MaxLen = 256;

    private readonly CopyElem* _elems;
    private readonly int _capacity;
    private int _count;

    public BatchCopy(CopyElem* elems, int capacity)
    {
        _elems = elems;
        _capacity = capacity;
        _count = 0;
    }

    public readonly int Count => _count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(byte* dst, byte* src, uint len)
    {
        if (len <= MaxLen && _count < _capacity)
        {
            // SAFETY: _count < _capacity, the element is inside the scratch array.
            CopyElem* e = _elems + _count++;
            e->Dst = dst;
            e->Src = src;
            e->Len = len;
        }
        else PacketCopy.Copy(dst, src, len);
    }

    /// <summary>Forgets copies queued after <paramref name="mark"/> (a dropped packet's copies into its own mbuf).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Truncate(int mark)
    {
        Debug.Assert(mark <= _count);
        _count = mark;
    }

    /// <summary>Runs every queued copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Flush()
    {
        CopyElem* e = _elems;
        for (int i = 0; i < _count; i++, e++) PacketCopy.Copy(e->Dst, e->Src, e->Len);
        _count = 0;
    }
}
