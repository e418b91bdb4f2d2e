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
        _ptrs = (void**)NativeMemory.Alloc(2, (nuint)sizeof(void*));
        _completed = (uint*)NativeMemory.AlignedAlloc(64, 64);
        *_completed = 0;
        // A job's counter is its channel's: written once, not per submit.
        for (uint i = 0; i < capacity; i++) _jobs[i].Completed = _completed;
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
        CopyJob.SetOne(NextStaged(token), src, dst, len);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private CopyJob* NextStaged(nuint token)
    {
        uint i = _staged++;
        // SAFETY: CanStage held: the job is inside the array and not in flight.
        CopyJob* j = _jobs + ((_tail + i) & (_capacity - 1));
        j->Token = token;
        return j;
    }

    /// <summary>
    /// Where an inline run writes its one-copy jobs: the next job to stage, and in <paramref name="room"/> how many
    /// may follow it without reaching a job in flight or wrapping the array (the run then calls
    /// <see cref="StageRun"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal CopyJob* RunJobs(out uint room)
    {
        uint at = (_tail + _staged) & (_capacity - 1);
        room = Math.Min(_capacity - (_tail + _staged - _head), _capacity - at);
        return _jobs + at;
    }

    /// <summary>Stages the <paramref name="k"/> jobs written from <see cref="RunJobs"/> on (copies set; no tokens: an
    /// in-order queue's run, whose completions are counted, never reported by token).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void StageRun(uint k) => _staged += k;

    /// <summary>Jobs staged and not handed to the engine yet (<see cref="SubmitStaged"/> hands them over).</summary>
    internal uint Staged => _staged;

    /// <summary>
    /// Hands the staged jobs to the engine in order; returns how many it took. Those its ring had no room for stay
    /// staged, in order, for the next call (the async queue calls again at its next submit, poll or settle): the
    /// engine's copy thread is behind, and the order of completions is kept. Under a disposed engine the CPU copies
    /// them now and counts them complete (no copy thread writes the counter any more).
    /// </summary>
    internal uint SubmitStaged()
    {
        uint n = _staged;
        if (n == 0) return 0;
        uint t = _tail;
        uint k = SubmitRange(t, n);
        if (k != n && _engine.IsDisposed)   // nothing more will be copied by its thread
        {
            // SAFETY: positions t+k .. t+n-1 are staged jobs, masked into the array.
            for (uint i = k; i < n; i++) CopyJob.Run(_jobs + ((t + i) & (_capacity - 1)));
            Volatile.Write(ref *_completed, *_completed + (n - k));
            k = n;
        }
        _tail = t + k;
        _staged = n - k;
        return k;
    }

    /// <summary>
    /// Puts jobs [<paramref name="t"/>, <paramref name="t"/> + <paramref name="n"/>) (free-running positions) on the
    /// engine's ring as one batch, two where the range wraps the array; returns the jobs of the batches it took.
    /// </summary>
    private uint SubmitRange(uint t, uint n)
    {
        uint at = t & (_capacity - 1);
        uint first = Math.Min(n, _capacity - at);
        // SAFETY: at < capacity and first <= capacity - at: the batch is inside the array; _ptrs holds two entries.
        CopyJob* a = _jobs + at;
        a->Count = first;
        _ptrs[0] = a;
        uint batches = 1;
        if (first != n)
        {
            _jobs->Count = n - first;
            _ptrs[1] = _jobs;
            batches = 2;
        }
        uint k = _engine.Submit(_ptrs, batches);
        return k == batches ? n : k == 1 ? first : 0;
    }

    public uint TransferData(int vid, int queueId, AsyncDesc* descs, AsyncStatus* opaque, ushort count)
    {
        Debug.Assert(_staged == 0);
        uint n = Math.Min(count, _capacity - (_tail - _head));
        for (uint i = 0; i < n; i++)
        {
            CopyJob* j = _jobs + ((_tail + i) & (_capacity - 1));
            j->Src = descs[i].Src;
            j->Dst = descs[i].Dst;
            j->Token = opaque != null ? opaque->DstOpaqueData[i] : 0;
        }
        uint k = n == 0 ? 0 : SubmitRange(_tail, n);
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
