using System.Runtime.InteropServices;
using HotPath.Engine.Async;

namespace HotPath.Tests.Async;

/// <summary>
/// The test copy channel: it copies nothing when given the packets; each poll (CheckCompletedCopies) copies and
/// reports a random subset of the packets it has held for at least <see cref="MinPolls"/> polls, so completions
/// come out of order (or, registered in-order, as an in-order prefix) and late. <see cref="Hold"/> stops all
/// completions (copies stay in flight for as long as a test needs). Before writing, every destination page is
/// checked with mincore(2), and every source page too: a copy into (or, for the dequeue, out of) memory that is no
/// longer mapped is counted in <see cref="WritesAfterUnmap"/> (<see cref="ReadsAfterUnmap"/>) and skipped, instead
/// of crashing the test process.
/// </summary>
internal sealed unsafe class ShuffledLateChannel : IAsyncCopyChannel
{
    private readonly struct Held(nint src, nint dst, nuint token, int polls)
    {
        public readonly nint Src = src, Dst = dst;
        public readonly nuint Token = token;
        public readonly int Polls = polls;
        public Held Older() => new(Src, Dst, Token, Polls + 1);
    }

    private readonly List<Held> _held = new(4096);
    private readonly Random _rng;
    private readonly bool _inOrder;
    private readonly int[] _pick = new int[4096];

    /// <summary>Polls a packet waits at least before it may complete.</summary>
    public int MinPolls { get; init; } = 2;
    /// <summary>Packets a TransferData call accepts at most (the rest the device must copy itself).</summary>
    public int AcceptPerCall { get; set; } = int.MaxValue;
    /// <summary>While set, nothing completes.</summary>
    public volatile bool Hold;

    public long Transferred, Completed, WritesAfterUnmap, ReadsAfterUnmap;
    /// <summary>Polls made while <see cref="Hold"/> was set (a test waits on it to know a settle is polling).</summary>
    public long PollsWhileHeld;
    /// <summary>Largest number of packets that completed in one poll out of submission order (0: all in order).</summary>
    public long OutOfOrderCompletions;

    public ShuffledLateChannel(int seed, bool inOrder = false)
    {
        _rng = new Random(seed);
        _inOrder = inOrder;
    }

    public int Pending
    {
        get { lock (_held) return _held.Count; }
    }

    public uint TransferData(int vid, int queueId, AsyncDesc* descs, AsyncStatus* opaque, ushort count)
    {
        lock (_held)
        {
            int n = Math.Min(count, AcceptPerCall);
            for (int i = 0; i < n; i++)
                _held.Add(new Held((nint)descs[i].Src, (nint)descs[i].Dst, opaque != null ? opaque->DstOpaqueData[i] : 0, 0));
            Transferred += n;
            return (uint)n;
        }
    }

    public uint CheckCompletedCopies(int vid, int queueId, AsyncStatus* opaque, ushort maxPackets)
    {
        lock (_held)
        {
            if (Hold)
            {
                PollsWhileHeld++;
                return 0;
            }
            for (int i = 0; i < _held.Count; i++) _held[i] = _held[i].Older();
            int eligible = 0;
            while (eligible < _held.Count && _held[eligible].Polls >= MinPolls) eligible++;   // held in submit order
            int n = 0;
            if (_inOrder)
            {
                n = Math.Min(_rng.Next(eligible + 1), maxPackets);
                for (int i = 0; i < n; i++) _pick[i] = i;
            }
            else
            {
                for (int i = 0; i < eligible && n < maxPackets; i++)
                    if (_rng.Next(3) != 0) _pick[n++] = i;
                // Report them in a shuffled order.
                for (int i = n - 1; i > 0; i--)
                {
                    int j = _rng.Next(i + 1);
                    (_pick[i], _pick[j]) = (_pick[j], _pick[i]);
                }
                for (int i = 1; i < n; i++)
                    if (_pick[i] < _pick[i - 1]) OutOfOrderCompletions++;
            }
            for (int i = 0; i < n; i++)
            {
                Held h = _held[_pick[i]];
                Copy((AsyncIovIter*)h.Src, (AsyncIovIter*)h.Dst);
                if (opaque != null) opaque->DstOpaqueData[i] = h.Token;
            }
            // Remove the completed ones, keeping the rest in submit order.
            var done = new bool[_held.Count];
            for (int i = 0; i < n; i++) done[_pick[i]] = true;
            int w = 0;
            for (int i = 0; i < _held.Count; i++)
                if (!done[i]) _held[w++] = _held[i];
            _held.RemoveRange(w, _held.Count - w);
            Completed += n;
            return (uint)n;
        }
    }

    private void Copy(AsyncIovIter* src, AsyncIovIter* dst)
    {
        Assert.Equal(src->NrSegs, dst->NrSegs);
        for (nuint k = 0; k < src->NrSegs; k++)
        {
            IoVec s = src->Iov[k], d = dst->Iov[k];
            Assert.Equal(s.Len, d.Len);
            if (!Mapped((byte*)d.Base, d.Len))
            {
                WritesAfterUnmap++;
                continue;
            }
            // The dequeue's copies read guest memory: a read after unmap is as fatal as a write.
            if (!Mapped((byte*)s.Base, s.Len))
            {
                ReadsAfterUnmap++;
                continue;
            }
            Buffer.MemoryCopy(s.Base, d.Base, d.Len, s.Len);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mincore(nint addr, nuint length, byte* vec);

    private static bool Mapped(byte* p, nuint len)
    {
        nint start = (nint)p & ~4095;
        nuint span = (nuint)((nint)p + (nint)len - start);
        nuint pages = (span + 4095) / 4096;
        byte* vec = stackalloc byte[(int)Math.Min(pages, 64)];
        return pages > 64 || mincore(start, span, vec) == 0;
    }
}
