using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;
using HotPath.Tests.Migration;

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
        try
        {
            WaitFor(() => Interlocked.Read(ref ch.PollsWhileHeld) > 0, "the settle to poll the channel");
            Assert.True(t.IsAlive);
            whileBlocked?.Invoke();
        }
        finally
        {
            ch.Hold = false;   // a failed assertion must not leave the change (and the teardown) waiting for the channel
        }
        Assert.True(t.Join(Wait));
        Assert.Null(failed);
    }

    /// <summary>
    /// The guest of <paramref name="lb"/> goes away while <paramref name="ch"/> holds <paramref name="packets"/>
    /// packets' copies: the teardown settles the queue (polls the held channel) and frees nothing while the copies may
    /// still run; once they complete every mbuf goes back and no guest byte was read or written after the unmap.
    /// </summary>
    public static void DisconnectWhileHeld(SocketLoopback lb, ShuffledLateChannel ch, int packets)
    {
        Assert.Equal((uint)packets, lb.Pool.InUse);
        lb.Frontend.Dispose();   // the guest goes away with every copy still in flight
        WaitFor(() => Interlocked.Read(ref ch.PollsWhileHeld) > 0, "the teardown to settle the queue");
        Assert.Equal((uint)packets, lb.Pool.InUse);   // nothing freed while the copies may still run
        ch.Hold = false;
        WaitFor(() => lb.Pool.InUse == 0, "the teardown to free the mbufs");
        Assert.Equal(0L, ch.ReadsAfterUnmap);
        Assert.Equal(0L, ch.WritesAfterUnmap);
        Assert.Equal(0, ch.Pending);
        Assert.Equal(ch.Transferred, ch.Completed);
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

    /// <summary>
    /// The used entries the guest can see and has not taken yet, in ring order: (slot, id, length). Split: used.idx
    /// past the driver's last used; packed: the used descriptors from the driver's next used slot on.
    /// </summary>
    public static List<(uint Slot, uint Id, uint Len)> UsedSeen(IRingDriver d)
    {
        var l = new List<(uint, uint, uint)>();
        if (d is SplitRingDriver s)
            for (ushort u = s.LastUsed; u != s.UsedIdx; u++)
            {
                VringUsedElem e = s.RawUsed(u);
                l.Add((u, e.Id, e.Len));
            }
        else
            foreach ((uint slot, VringPackedDesc desc) in ((PackedRingDriver)d).PeekUsed())
                l.Add((slot, desc.Id, desc.Len));
        return l;
    }

    /// <summary>RX features of the async tests: EVENT_IDX, and MRG_RXBUF and LOG_ALL as asked.</summary>
    public static ulong Features(bool mrg, bool log) =>
        Loopback.With(VirtioFeatures.RingEventIdx) | (mrg ? 1UL << VirtioFeatures.NetMrgRxbuf : 0) | (log ? 1UL << VirtioFeatures.LogAll : 0);

    /// <summary>
    /// Posts and publishes the RX buffers <paramref name="sizes"/> need: mergeable, 1536-byte chains; else one chain
    /// per packet, a descriptor per 4 KiB.
    /// </summary>
    public static void PostFor(IRingDriver rx, IEnumerable<int> sizes, bool mrg)
    {
        foreach (int size in sizes)
        {
            uint need = (uint)(size + rx.HeaderSize);
            if (mrg)
                for (uint i = 0; i < (need + 1535) / 1536; i++) Assert.True(rx.PostRx(1536));
            else Assert.True(rx.PostRx(need, (int)((need + 4095) / 4096)));
        }
        rx.Publish();
    }
}
