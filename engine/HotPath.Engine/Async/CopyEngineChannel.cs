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
    private uint _staged;        // jobs written after _tail by Stage/StageOne, not handed to the engine yet

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

    /// <summary>Room for another staged job (<see cref="Stage"/>, <see cref="StageOne"/>).</summary>
    internal bool CanStage
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _tail + _staged - _head < _capacity;
    }

    /// <summary>
    /// The async queue's direct form of transfer_data, one packet at a time as it commits: writes the packet's job
    /// (after checking <see cref="CanStage"/>); <see cref="SubmitStaged"/> hands the staged jobs to the engine.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Stage(AsyncIovIter* src, AsyncIovIter* dst, nuint token)
    {
        CopyJob* j = NextStaged(token);
        j->Src = src;
        j->Dst = dst;
    }

    /// <summary><see cref="Stage"/> for a packet of one copy: no iters.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void StageOne(byte* src, byte* dst, uint len, nuint token)
    {
        CopyJob* j = NextStaged(token);
        j->Src = null;
        j->SrcBuf = src;
        j->DstBuf = dst;
        j->Len = len;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private CopyJob* NextStaged(nuint token)
    {
        uint i = _staged++;
        // SAFETY: CanStage held: the job is inside the array and not in flight; _ptrs holds capacity entries.
        CopyJob* j = _jobs + ((_tail + i) & (_capacity - 1));
        j->Token = token;
        j->Completed = _completed;
        _ptrs[i] = j;
        return j;
    }

    /// <summary>Hands the staged jobs to the engine in order; returns how many it took (the rest are dropped: the
    /// caller copies those packets with the CPU).</summary>
    internal uint SubmitStaged()
    {
        uint n = _staged;
        _staged = 0;
        uint k = n == 0 ? 0 : _engine.Submit(_ptrs, n);
        _tail += k;
        return k;
    }

    public uint TransferData(int vid, int queueId, AsyncDesc* descs, AsyncStatus* opaque, ushort count)
    {
        Debug.Assert(_staged == 0);
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
