using HotPath.Engine.Interop;
using HotPath.Engine.Rings;

namespace HotPath.Engine.Async;

/// <summary>
/// The built-in copy engine for applications without DMA hardware: one copy thread fed by a multi-producer,
/// single-consumer HotPath ring (<see cref="Rings"/>) of batches of <see cref="CopyJob"/>s (a pointer to a channel's
/// first job and its count: one or two ring entries per submit, not one per packet). It takes up to
/// <see cref="Batch"/> batches at a time, copies their jobs in order, and counts each on its channel's completion
/// counter. Channels
/// (<see cref="CreateChannel"/>, one per RX queue) may be used from several polling threads at once. Idle, the
/// thread spins briefly, yields, then sleeps until a submit wakes it (at most 1 ms, a lost wake-up costs that).
/// Dispose after unregistering its channels: the thread finishes the jobs it was given, then stops.
/// </summary>
public sealed unsafe class CopyEngine : IDisposable
{
    public const int Batch = 32;
    private const int SpinRounds = 256, YieldRounds = 2048;

    private RingHeader* _submit;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _wake = new(false);
    private volatile bool _stop;
    private volatile bool _pause, _paused;
    private int _sleeping;
    private long _packets, _bytes;

    /// <summary>CPU the copy thread was pinned to (-1: not pinned, or pinning failed: see <see cref="PinError"/>).</summary>
    public int Cpu { get; private set; } = -1;
    /// <summary>errno of a failed pinning (0: none).</summary>
    public int PinError { get; private set; }

    /// <summary>Disposed: its thread stopped after the jobs it was given.</summary>
    internal bool IsDisposed => _submit == null;

    /// <summary>Packets and bytes the copy thread copied.</summary>
    public long Packets => Volatile.Read(ref _packets);
    public long Bytes => Volatile.Read(ref _bytes);

    /// <param name="name">Thread and ring name.</param>
    /// <param name="cpu">CPU to pin the copy thread to; -1 leaves it to the scheduler.</param>
    /// <param name="ringCount">Submission ring slots (power of two; holds one less batch).</param>
    public CopyEngine(string name = "hp-copy", int cpu = -1, uint ringCount = 4096)
    {
        _submit = RingOps.Create(name, ringCount, RingFlags.ScDeq, out string? error);
        if (_submit == null) throw new ArgumentException(error);
        var started = new ManualResetEventSlim(false);
        _thread = new Thread(() => Run(cpu, started)) { IsBackground = true, Name = name };
        _thread.Start();
        started.Wait();
        started.Dispose();
    }

    /// <summary>A channel for one queue, holding up to <paramref name="capacity"/> packets (power of two).</summary>
    public CopyEngineChannel CreateChannel(uint capacity = 2048)
    {
        ObjectDisposedException.ThrowIf(_submit == null, this);
        return new CopyEngineChannel(this, capacity);
    }

    /// <summary>Puts up to <paramref name="n"/> batches on the submission ring (in order); returns how many.</summary>
    internal uint Submit(void** jobs, uint n)
    {
        RingHeader* ring = _submit;
        if (ring == null) return 0;   // disposed under a registered channel: the device copies with the CPU
        uint k = RingOps.EnqueueBurst(ring, jobs, n, null);
        // Full fence: the ring's tail store above before the sleeping flag is read; the thread's flag store and
        // fence come before its last emptiness check, so one of the two sides sees the other.
        Interlocked.MemoryBarrier();
        if (k != 0 && Volatile.Read(ref _sleeping) != 0) _wake.Set();
        return k;
    }

    /// <summary>
    /// Tests: the copy thread stops taking batches from its ring (returns once it has, false if it did not within
    /// <paramref name="timeoutMs"/>); what is on the ring waits, and a full ring makes the channels keep their jobs
    /// staged. <see cref="Resume"/> lets it go on.
    /// </summary>
    internal bool Pause(int timeoutMs = 10_000)
    {
        _pause = true;
        _wake.Set();
        return SpinWait.SpinUntil(() => _paused, timeoutMs);
    }

    internal void Resume() => _pause = false;

    private void Run(int cpu, ManualResetEventSlim started)
    {
        if (cpu >= 0)
        {
            if (LibC.PinCurrentThread(cpu) == 0) Cpu = cpu;
            else PinError = LibC.Errno;
        }
        started.Set();
        void** batch = stackalloc void*[Batch];
        int idle = 0;
        while (true)
        {
            if (_pause)
            {
                _paused = true;   // acknowledged: nothing is taken from the ring until Resume
                Thread.Yield();
                continue;
            }
            _paused = false;
            uint n = RingOps.DequeueBurst(_submit, batch, Batch, null);
            if (n == 0)
            {
                if (_stop) return;
                Idle(ref idle);
                continue;
            }
            idle = 0;
            ulong bytes = 0;
            long packets = 0;
            for (uint i = 0; i < n; i++)
            {
                var job = (CopyJob*)batch[i];
                // Read before the first count: the poller may reuse a job once it is counted.
                uint* completed = job->Completed;
                uint count = job->Count;
                for (uint c = 0; c < count; c++)
                {
                    bytes += CopyJob.Run(job + c);
                    // Release: the bytes above are written before the channel's poller sees the count. This thread is
                    // the counter's only writer; each channel's jobs arrive in its submission order: a count is a prefix.
                    Volatile.Write(ref *completed, *completed + 1);
                }
                packets += count;
            }
            Volatile.Write(ref _packets, _packets + packets);
            Volatile.Write(ref _bytes, _bytes + (long)bytes);
        }
    }

    private void Idle(ref int idle)
    {
        idle++;
        if (idle < SpinRounds) Thread.SpinWait(32);
        else if (idle < YieldRounds) Thread.Yield();
        else
        {
            Volatile.Write(ref _sleeping, 1);
            Interlocked.MemoryBarrier();
            if (RingOps.Count(_submit) == 0 && !_stop) _wake.Wait(1);
            _wake.Reset();
            Volatile.Write(ref _sleeping, 0);
        }
    }

    public void Dispose()
    {
        RingHeader* ring = _submit;
        if (ring == null) return;
        _stop = true;
        _wake.Set();
        _thread.Join();
        _submit = null;
        RingOps.Free(ring);
        _wake.Dispose();
    }
}
