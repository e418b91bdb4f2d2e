using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Tests.Datapath;

namespace HotPath.Tests.Async;

/// <summary>Helpers of the async tests: pool mbufs holding a payload, and polling a queue until packets come back.</summary>
internal static unsafe class AsyncPackets
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>A one-segment mbuf from <paramref name="pool"/> holding <paramref name="data"/> (at most the data room).</summary>
    public static Mbuf* FromPool(Mempool pool, ReadOnlySpan<byte> data)
    {
        Mbuf* m = MbufOps.Alloc(pool.Header);
        Assert.True(m != null, "pool empty");
        data.CopyTo(new Span<byte>(m->Data, data.Length));
        m->DataLen = (ushort)data.Length;
        m->PktLen = (uint)data.Length;
        return m;
    }

    /// <summary>
    /// Polls <paramref name="queueId"/> until <paramref name="want"/> packets came back (deadline: <see cref="Wait"/>),
    /// returning them in the order they came. Each call of <paramref name="between"/> runs between polls.
    /// </summary>
    public static List<nint> PollBack(VhostDevice dev, int queueId, int want, Action? between = null)
    {
        var got = new List<nint>(want);
        nint* buf = stackalloc nint[64];
        var deadline = DateTime.UtcNow + Wait;
        while (got.Count < want)
        {
            ushort n = dev.PollEnqueueCompleted(queueId, (Mbuf**)buf, 64);
            for (int i = 0; i < n; i++) got.Add(buf[i]);
            if (n == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, $"only {got.Count} of {want} packets completed");
                between?.Invoke();
                Thread.Yield();
            }
        }
        return got;
    }

    /// <summary>
    /// Runs <paramref name="change"/> (a control-plane change) on its own thread while <paramref name="ch"/> holds every
    /// copy: waits until the change polls the channel from its settle (it is blocked there), runs
    /// <paramref name="whileBlocked"/>, lets the channel complete and waits for the change to finish.
    /// </summary>
    public static void WhileHeld(ShuffledLateChannel ch, Action change, Action? whileBlocked = null)
    {
        Exception? failed = null;
        var t = new Thread(() =>
        {
            try { change(); }
            catch (Exception e) { failed = e; }
        });
        t.Start();
        WaitFor(() => Interlocked.Read(ref ch.PollsWhileHeld) > 0, "the settle to poll the channel");
        Assert.True(t.IsAlive);
        whileBlocked?.Invoke();
        ch.Hold = false;
        Assert.True(t.Join(Wait));
        Assert.Null(failed);
    }

    /// <summary>Waits for <paramref name="condition"/> (deadline: <see cref="Wait"/>).</summary>
    public static void WaitFor(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            Thread.Sleep(1);
        }
    }

    /// <summary>Sizes from 64 to 9000 bytes: the standard ones and random ones.</summary>
    public static int[] Sizes(int seed, int count) =>
        Payload.WithRandom(seed, count).Select(s => Math.Max(64, s)).ToArray();
}
