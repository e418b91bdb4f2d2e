namespace HotPath.Engine.Async;

/// <summary>
/// One queue's channel on a <see cref="CopyEngine"/>: a native array of jobs used in order and a completion counter
/// the copy thread advances (one writer) and the holder of the vring's access lock reads (one reader). The engine copies
/// in submission order, so completions come back in order: register it with async_inorder (it also reports tokens,
/// so it works as an out-of-order channel too). No allocation per call. <see cref="HasCompletions"/> lets the poller
/// skip the channel call when nothing completed (one load of the counter).
/// </summary>
public sealed unsafe class CopyEngineChannel : IAsyncCopyChannel, IDisposable
{
    private readonly CopyEngine _engine;
    private readonly uint _capacity;
    private CopyJob* _jobs;
    private void** _ptrs;
    private uint* _completed;    // free-running, on a cache line of its own: jobs the copy thread finished
    private uint _tail, _head;   // free-running: jobs handed to the engine, jobs reported complete

    internal CopyEngineChannel(CopyEngine engine, uint capacity)
    {
        if (capacity < 2 || !uint.IsPow2(capacity) || capacity > 1u << 16) throw new ArgumentOutOfRangeException(nameof(capacity));
        _engine = engine;
        _capacity = capacity;
        _jobs = (CopyJob*)NativeMemory.AlignedAlloc(capacity * (nuint)sizeof(CopyJob), 64);
        _ptrs = (void**)NativeMemory.Alloc(capacity, (nuint)sizeof(void*));
        _completed = (uint*)NativeMemory.AlignedAlloc(64, 64);
        *_completed = 0;
    }

    /// <summary>Packets handed to the engine and not reported complete.</summary>
    public uint InFlight => _tail - _head;

    /// <summary>The copy thread finished jobs <see cref="CheckCompletedCopies"/> has not reported yet (one acquire load).</summary>
    public bool HasCompletions
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref *_completed) != _head;
    }

    public uint TransferData(int vid, int queueId, AsyncDesc* descs, AsyncStatus* opaque, ushort count)
    {
        uint n = Math.Min(count, _capacity - (_tail - _head));
        uint* completed = _completed;
        for (uint i = 0; i < n; i++)
        {
            CopyJob* j = _jobs + ((_tail + i) & (_capacity - 1));
            j->Src = descs[i].Src;
            j->Dst = descs[i].Dst;
            j->Token = opaque != null ? opaque->DstOpaqueData[i] : 0;
            j->Completed = completed;
            _ptrs[i] = j;
        }
        uint k = n == 0 ? 0 : _engine.Submit(_ptrs, n);
        _tail += k;
        return k;
    }

    public uint CheckCompletedCopies(int vid, int queueId, AsyncStatus* opaque, ushort maxPackets)
    {
        // Acquire: the jobs' bytes were written before the copy thread counted them.
        uint n = Math.Min(Volatile.Read(ref *_completed) - _head, maxPackets);
        if (opaque != null)
            for (uint i = 0; i < n; i++) opaque->DstOpaqueData[i] = _jobs[(_head + i) & (_capacity - 1)].Token;
        _head += n;
        return n;
    }

    public void Dispose()
    {
        if (_jobs == null) return;
        NativeMemory.AlignedFree(_jobs);
        NativeMemory.Free(_ptrs);
        NativeMemory.AlignedFree(_completed);
        _jobs = null;
        _ptrs = null;
        _completed = null;
    }
}
