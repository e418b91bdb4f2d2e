using HotPath.Engine.Rings;

namespace HotPath.Engine.Async;

/// <summary>
/// One queue's channel on a <see cref="CopyEngine"/>: a native array of jobs used in order and a single-producer
/// (the copy thread), single-consumer (the holder of the vring's access lock) completion ring. The engine copies in
/// submission order, so completions come back in order: register it with async_inorder (it also reports tokens,
/// so it works as an out-of-order channel too). No allocation per call.
/// </summary>
public sealed unsafe class CopyEngineChannel : IAsyncCopyChannel, IDisposable
{
    private readonly CopyEngine _engine;
    private readonly uint _capacity;
    private CopyJob* _jobs;
    private void** _ptrs;
    private RingHeader* _done;
    private uint _tail, _head;   // free-running: jobs handed to the engine, jobs reported complete

    internal CopyEngineChannel(CopyEngine engine, uint capacity)
    {
        if (capacity < 2 || !uint.IsPow2(capacity) || capacity > 1u << 16) throw new ArgumentOutOfRangeException(nameof(capacity));
        _engine = engine;
        _capacity = capacity;
        _jobs = (CopyJob*)NativeMemory.AlignedAlloc(capacity * (nuint)sizeof(CopyJob), 64);
        _ptrs = (void**)NativeMemory.Alloc(capacity, (nuint)sizeof(void*));
        // One slot stays empty in a HotPath ring: twice the capacity so every job in flight fits.
        _done = RingOps.Create("hp-copy-done", 2 * capacity, RingFlags.SpEnq | RingFlags.ScDeq, out string? error);
        if (_done == null) throw new ArgumentException(error);
    }

    /// <summary>Packets handed to the engine and not reported complete.</summary>
    public uint InFlight => _tail - _head;

    public uint TransferData(int vid, int queueId, AsyncDesc* descs, AsyncStatus* opaque, ushort count)
    {
        uint n = Math.Min(count, _capacity - (_tail - _head));
        for (uint i = 0; i < n; i++)
        {
            CopyJob* j = _jobs + ((_tail + i) & (_capacity - 1));
            j->Src = descs[i].Src;
            j->Dst = descs[i].Dst;
            j->Token = opaque != null ? opaque->DstOpaqueData[i] : 0;
            j->Completions = _done;
            _ptrs[i] = j;
        }
        uint k = n == 0 ? 0 : _engine.Submit(_ptrs, n);
        _tail += k;
        return k;
    }

    public uint CheckCompletedCopies(int vid, int queueId, AsyncStatus* opaque, ushort maxPackets)
    {
        uint n = Math.Min(maxPackets, _capacity);
        // Acquire (the ring's tail load): the job's bytes were written before the copy thread enqueued it.
        n = RingOps.DequeueBurst(_done, _ptrs, n, null);
        if (opaque != null)
            for (uint i = 0; i < n; i++) opaque->DstOpaqueData[i] = ((CopyJob*)_ptrs[i])->Token;
        _head += n;
        return n;
    }

    public void Dispose()
    {
        if (_jobs == null) return;
        NativeMemory.AlignedFree(_jobs);
        NativeMemory.Free(_ptrs);
        RingOps.Free(_done);
        _jobs = null;
        _ptrs = null;
        _done = null;
    }
}
