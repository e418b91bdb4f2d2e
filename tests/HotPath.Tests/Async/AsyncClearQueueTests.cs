using HotPath.Engine;
using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Protocol.Control;
using HotPath.Tests.Datapath;
using HotPath.Tests.Migration;
using HotPath.Tests.Protocol;

namespace HotPath.Tests.Async;

/// <summary>
/// Clearing an async queue (DPDK 22.11's rte_vhost_clear_queue and rte_vhost_clear_queue_thread_unsafe) with copies
/// in flight, over a real socket with HotPath's frontend: from the callbacks an application stops a queue in
/// (vring_state_changed, destroy_device) and from the application's thread, on RX and TX queues. Every packet comes
/// back exactly once, the guest sees every chain used, and the pool's in-use count returns to 0.
/// </summary>
public unsafe class AsyncClearQueueTests
{
    private const int Packets = 24;

    /// <summary>The application's callbacks: a test's hook runs inside the callback, then the event is recorded.</summary>
    private sealed class ClearingApp(DeviceEventLog events) : IVhostDeviceOps
    {
        public Action<int>? OnDestroy;
        public Action<int, ushort, bool>? OnStateChanged;

        public int NewDevice(int vid) => events.NewDevice(vid);

        public void DestroyDevice(int vid)
        {
            OnDestroy?.Invoke(vid);
            events.DestroyDevice(vid);
        }

        public int VringStateChanged(int vid, ushort queueId, bool enable)
        {
            OnStateChanged?.Invoke(vid, queueId, enable);
            return events.VringStateChanged(vid, queueId, enable);
        }

        public void DestroyConnection(int vid) => events.DestroyConnection(vid);
    }

    /// <summary>What one clear inside a callback saw: the channel's copies still held, the outcome, the packets.</summary>
    private sealed class Cleared
    {
        public int PendingBefore = -1;
        public AsyncError Error = AsyncError.BadQueue;
        public List<nint> Packets = new();
    }

    private static Cleared Clear(VhostDevice dev, int queueId, ShuffledLateChannel ch, bool threadUnsafe)
    {
        var c = new Cleared { PendingBefore = ch.Pending };
        nint[] buf = new nint[256];
        ushort n;
        c.Error = threadUnsafe ? dev.ClearQueueThreadUnsafe(queueId, buf, out n) : dev.ClearQueue(queueId, buf, out n);
        c.Packets.AddRange(buf.AsSpan(0, n).ToArray());
        return c;
    }

    private static ushort ClearInto(VhostDevice dev, int queueId, Span<nint> buf)
    {
        Assert.Equal(AsyncError.None, dev.ClearQueue(queueId, buf, out ushort n));
        return n;
    }

    /// <summary>The guest sends <paramref name="count"/> packets; the application dequeues them synchronously and
    /// submits them to the RX queue's channel.</summary>
    private static nint[] SubmitGuestPackets(SocketLoopback lb, int count, ShuffledLateChannel ch)
    {
        Assert.Equal(count, lb.Guest.Send(count, s => 300 + (int)(s * 53 % 1100)));
        var got = new nint[count];
        int n = 0;
        AsyncPackets.WaitFor(() => (n += lb.Device.DequeueBurst(1, lb.Pool, got.AsSpan(n))) == count, "the guest's packets");
        Assert.Equal(count, lb.Device.SubmitEnqueueBurst(0, got));
        Assert.Equal(count, ch.Pending);   // the channel has completed none of them yet (MinPolls)
        return got;
    }

    /// <summary>The guest sends <paramref name="count"/> packets; the async dequeue takes them all and completes none
    /// yet.</summary>
    private static void TakeGuestPackets(SocketLoopback lb, int count, ShuffledLateChannel ch)
    {
        Assert.Equal(count, lb.Guest.Send(count, s => 300 + (int)(s * 53 % 1100)));
        nint* buf = stackalloc nint[count];
        int inflight = 0;
        AsyncPackets.WaitFor(() =>
        {
            Assert.Equal(0, lb.Device.AsyncTryDequeueBurst(1, lb.Pool, new Span<nint>(buf, count), out inflight));
            return inflight == count;
        }, "the async dequeue to take the guest's packets");
        Assert.Equal(count, ch.Pending);
    }

    /// <summary>Each of <paramref name="sent"/> came back once, in submit order.</summary>
    private static void BackOnceInOrder(IReadOnlyList<nint> sent, IReadOnlyList<nint> back)
    {
        Assert.Equal(sent.Count, back.Count);
        Assert.Equal(sent.Count, back.Distinct().Count());
        Assert.Equal(sent, back);
    }

    /// <summary>TX packets cleared: whole guest packets, in the order the guest sent them, each once.</summary>
    private static void GuestPacketsInOrder(IReadOnlyList<nint> back, int count)
    {
        Assert.Equal(count, back.Count);
        Assert.Equal(count, back.Distinct().Count());
        ulong? last = null;
        foreach (nint p in back)
        {
            var m = (Mbuf*)p;
            var data = new ReadOnlySpan<byte>(m->Data, m->DataLen);
            Assert.Equal(m->PktLen, (uint)m->DataLen);
            ulong seq = Payload.Seq(data);
            Assert.True(Payload.Matches(data, seq), $"packet {seq} differs");
            if (last is { } l) Assert.Equal(l + 1, seq);
            last = seq;
        }
    }

    private static void FreeAll(IEnumerable<nint> pkts)
    {
        foreach (nint m in pkts) MbufOps.Free((Mbuf*)m);
    }

    private static SocketLoopback Rig(string tag, bool packed, out ClearingApp app)
    {
        var lb = new SocketLoopback(tag, ringSize: 64, packed: packed);
        app = new ClearingApp(lb.Events);
        lb.Session.Driver.RegisterCallbacks(app);
        return lb;
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Clearing_in_vring_state_changed_gives_every_submitted_packet_back_once(bool threadUnsafe, bool packed)
    {
        SocketLoopback lb = Rig("async-clear-state", packed, out ClearingApp app);
        var ch = new ShuffledLateChannel(seed: 21) { MinPolls = 3 };
        try
        {
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, 0, ch));
            nint[] sent = SubmitGuestPackets(lb, Packets, ch);
            Cleared? cleared = null;
            app.OnStateChanged = (_, q, enable) =>
            {
                if (q == 0 && !enable) cleared = Clear(lb.Device, 0, ch, threadUnsafe);
            };
            EventMark mark = lb.Events.Mark();
            lb.Frontend.SetVringEnable(0, false);   // the disable settles the queue, then vring_state_changed
            lb.Events.WaitFor($"vring_state_changed {lb.Device.Vid} 0 0", AsyncPackets.Wait, mark);

            Assert.NotNull(cleared);
            Assert.Equal(0, cleared.PendingBefore);   // HotPath waited for the copies before the callback
            Assert.Equal(AsyncError.None, cleared.Error);
            BackOnceInOrder(sent, cleared.Packets);
            Assert.Equal(0, lb.Device.AsyncInflight(0));
            Assert.Equal(Packets, lb.Guest.Collect());   // each byte-exact, each once
            Assert.Equal((uint)Packets, lb.Pool.InUse);   // the clear freed nothing: the application holds them
            FreeAll(cleared.Packets);
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(0, out uint freed));
            Assert.Equal(0u, freed);
            Assert.Equal(0u, lb.Pool.InUse);
            Assert.Equal(0L, ch.WritesAfterUnmap);
        }
        finally
        {
            lb.Dispose();
        }
    }

    public enum Stop { GetVringBase, Disconnect }

    [Theory]
    [InlineData(Stop.GetVringBase, true)]
    [InlineData(Stop.GetVringBase, false)]
    [InlineData(Stop.Disconnect, true)]
    [InlineData(Stop.Disconnect, false)]
    public void Clearing_in_destroy_device_with_copies_in_flight_gives_back_rx_and_tx_packets_once(Stop stop, bool threadUnsafe)
    {
        SocketLoopback lb = Rig("async-clear-destroy", packed: false, out ClearingApp app);
        var rxCh = new ShuffledLateChannel(seed: 22) { MinPolls = 3 };
        var txCh = new ShuffledLateChannel(seed: 23) { MinPolls = 3 };
        try
        {
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, 0, rxCh));
            nint[] sent = SubmitGuestPackets(lb, Packets, rxCh);
            // TX async only now: the RX packets above came through the synchronous dequeue (never both on one queue).
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(1, 0, txCh));
            TakeGuestPackets(lb, Packets, txCh);
            Cleared? rx = null, tx = null;
            app.OnDestroy = _ =>
            {
                rx = Clear(lb.Device, 0, rxCh, threadUnsafe);
                tx = Clear(lb.Device, 1, txCh, threadUnsafe);
            };
            EventMark mark = lb.Events.Mark();
            uint rxBase = 0;
            if (stop == Stop.GetVringBase) rxBase = lb.Frontend.GetVringBase(0);
            else lb.Frontend.Dispose();
            lb.Events.WaitFor($"destroy_device {lb.Device.Vid}", AsyncPackets.Wait, mark);
            if (stop == Stop.Disconnect) lb.Events.WaitFor("destroy_connection", AsyncPackets.Wait, mark);

            Assert.NotNull(rx);
            Assert.NotNull(tx);
            // destroy_device comes before the ring stops: the copies were still in flight when the clear came.
            Assert.Equal(Packets, rx.PendingBefore);
            Assert.Equal(Packets, tx.PendingBefore);
            Assert.Equal(AsyncError.None, rx.Error);
            Assert.Equal(AsyncError.None, tx.Error);
            BackOnceInOrder(sent, rx.Packets);
            GuestPacketsInOrder(tx.Packets, Packets);
            Assert.Equal(0, rxCh.Pending);
            Assert.Equal(0, txCh.Pending);
            // Every chain was used: the RX packets arrived, the TX buffers came back to the guest.
            if (stop == Stop.GetVringBase) Assert.Equal((uint)Packets, rxBase);
            Assert.Equal(Packets, lb.Guest.Collect());
            Assert.Equal(0, lb.Guest.Tx.InFlight);
            // The teardown (disconnect) freed nothing the application had back: exactly the cleared packets are in use.
            Assert.Equal((uint)(2 * Packets), lb.Pool.InUse);
            FreeAll(rx.Packets);
            FreeAll(tx.Packets);
            Assert.Equal(0u, lb.Pool.InUse);
            Assert.Equal(0L, rxCh.WritesAfterUnmap + txCh.WritesAfterUnmap + rxCh.ReadsAfterUnmap + txCh.ReadsAfterUnmap);
        }
        finally
        {
            lb.Dispose();
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Clearing_from_the_application_thread_waits_for_the_copies_and_hands_back_in_submit_order(bool packed)
    {
        SocketLoopback lb = Rig("async-clear-app", packed, out _);
        var ch = new ShuffledLateChannel(seed: 24) { MinPolls = 3 };
        try
        {
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, 0, ch));
            nint[] sent = SubmitGuestPackets(lb, Packets, ch);
            var back = new nint[Packets];
            // A short array takes the oldest packets; the next call the rest.
            ushort first = ClearInto(lb.Device, 0, back.AsSpan(0, 10));
            Assert.Equal(10, first);
            Assert.Equal(0, ch.Pending);   // the clear waited for every copy, not just the ten
            Assert.Equal(Packets - 10, lb.Device.AsyncInflight(0));
            Assert.Equal(Packets - 10, ClearInto(lb.Device, 0, back.AsSpan(10)));
            BackOnceInOrder(sent, back);
            Assert.Equal(0, ClearInto(lb.Device, 0, back));
            Assert.Equal(0, lb.Device.PollEnqueueCompleted(0, back));
            Assert.Equal(Packets, lb.Guest.Collect());
            Assert.Equal((ulong)Packets, lb.Device.GetVring(0)!.Stats[HotPath.Engine.Stats.VringStats.InflightCompleted]);
            FreeAll(back);
            Assert.Equal(0u, lb.Pool.InUse);
        }
        finally
        {
            lb.Dispose();
        }
    }

    [Fact]
    public void Clearing_a_tx_queue_from_the_application_thread_gives_back_the_guest_packets_in_ring_order()
    {
        SocketLoopback lb = Rig("async-clear-tx", packed: false, out _);
        var ch = new ShuffledLateChannel(seed: 25) { MinPolls = 3 };
        try
        {
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(1, 0, ch));
            TakeGuestPackets(lb, Packets, ch);
            var back = new nint[64];
            ushort n = ClearInto(lb.Device, 1, back);
            GuestPacketsInOrder(back.AsSpan(0, n).ToArray(), Packets);
            Assert.Equal(0, lb.Device.AsyncInflight(1));
            lb.Guest.Collect();
            Assert.Equal(0, lb.Guest.Tx.InFlight);
            FreeAll(back.AsSpan(0, n).ToArray());
            Assert.Equal(0u, lb.Pool.InUse);
        }
        finally
        {
            lb.Dispose();
        }
    }

    [Fact]
    public void Clearing_a_busy_ring_a_queue_without_channel_or_a_bad_queue_is_refused_and_changes_nothing()
    {
        SocketLoopback lb = Rig("async-clear-refused", packed: false, out _);
        var ch = new ShuffledLateChannel(seed: 26) { MinPolls = 3 };
        try
        {
            var buf = new nint[64];
            Assert.Equal(AsyncError.BadQueue, lb.Device.ClearQueue(99, buf, out ushort n));
            Assert.Equal(AsyncError.BadQueue, lb.Device.ClearQueueThreadUnsafe(-1, buf, out n));
            Assert.Equal(AsyncError.NotRegistered, lb.Device.ClearQueue(0, buf, out n));
            Assert.Equal(AsyncError.NotRegistered, lb.Device.ClearQueueThreadUnsafe(1, buf, out n));
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, 0, ch));
            nint[] sent = SubmitGuestPackets(lb, Packets, ch);
            // A burst (here: the test) holds the ring: both refuse, and neither touches the queue.
            Assert.True(lb.Device.GetVring(0)!.AccessLock.TryEnter());
            try
            {
                Assert.Equal(AsyncError.Busy, lb.Device.ClearQueue(0, buf, out n));
                Assert.Equal(AsyncError.Busy, lb.Device.ClearQueueThreadUnsafe(0, buf, out n));
                Assert.Equal(0, n);
                Assert.Equal(Packets, ch.Pending);
            }
            finally
            {
                lb.Device.GetVring(0)!.AccessLock.Exit();
            }
            Assert.Equal(Packets, ClearInto(lb.Device, 0, buf));
            BackOnceInOrder(sent, buf.AsSpan(0, Packets).ToArray());
            FreeAll(sent);
            Assert.Equal(0u, lb.Pool.InUse);
        }
        finally
        {
            lb.Dispose();
        }
    }
}
