using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;

namespace HotPath.Tests.Async;

/// <summary>
/// The built-in engine's ring full (its copy thread behind): a submit's jobs stay staged in the channel, in order, and
/// go to the engine at the next poll or settle; nothing is published before its bytes are copied, nothing is copied
/// twice or lost. And an engine disposed under a registered channel: the CPU copies at submit.
/// </summary>
public unsafe class EngineBackpressureTests
{
    private const int Burst = 32;

    [Theory]
    [InlineData(false)]   // the next poll hands the staged jobs over
    [InlineData(true)]    // unregister's settle hands them over and waits for them
    public void Jobs_the_full_engine_ring_cannot_take_wait_staged_and_complete_in_order(bool unregisterFirst)
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.NetMrgRxbuf), ringSize: 256, bufferSize: 2048);
        using Mempool pool = TestPools.Create(256);
        // A ring of two slots holds one batch: the first submit's.
        using var engine = new CopyEngine("hp-copy-full", ringCount: 2);
        using CopyEngineChannel ch = engine.CreateChannel(capacity: 256);
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, new AsyncFeatures(true, 64).Value, ch));
        SplitRingDriver rx = lb.Rx[0];
        for (int i = 0; i < 2 * Burst; i++) Assert.True(rx.PostRx(2048));
        rx.Publish();
        Mbuf** p = stackalloc Mbuf*[2 * Burst];
        for (int i = 0; i < 2 * Burst; i++) p[i] = AsyncPackets.FromPool(pool, Payload.Make(1000 + i, (ulong)i));

        Assert.True(engine.Pause(), "the copy thread did not stop");
        try
        {
            Assert.Equal(Burst, lb.Device.SubmitEnqueueBurst(0, p, Burst));
            Assert.Equal(Burst, lb.Device.SubmitEnqueueBurst(0, p + Burst, Burst));
            Assert.Equal((uint)Burst, ch.InFlight);   // the first batch is on the ring
            Assert.Equal((uint)Burst, ch.Staged);    // the second waits in the channel
            Mbuf** back = stackalloc Mbuf*[2 * Burst];
            Assert.Equal(0, lb.Device.PollEnqueueCompleted(0, back, 2 * Burst));
            Assert.Equal((uint)Burst, ch.Staged);    // the ring is still full: a poll changes nothing
            Assert.Empty(AsyncPackets.UsedSeen(rx));
            Assert.Equal(0UL, lb.Device.GetVring(0)!.Async!.CpuFallbacks);
        }
        finally
        {
            engine.Resume();
        }

        if (unregisterFirst)
        {
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(0, out uint freed));
            Assert.Equal((uint)(2 * Burst), freed);
        }
        else
        {
            List<nint> back = AsyncPackets.PollBack(lb.Device, 0, 2 * Burst);
            for (int i = 0; i < 2 * Burst; i++) Assert.True(back[i] == (nint)p[i], $"packet {i} handed back out of order");
            for (int i = 0; i < 2 * Burst; i++) MbufOps.Free(p[i]);
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(0, out uint freed));
            Assert.Equal(0u, freed);
        }
        Assert.Equal(0u, ch.Staged);
        Assert.Equal(2L * Burst, engine.Packets);   // each copied once, by the engine
        var buf = new byte[2048];
        for (int i = 0; i < 2 * Burst; i++)
        {
            Assert.True(rx.TryReceive(buf, out RxInfo info), $"packet {i} missing");
            Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), (ulong)i), $"packet {i} differs");
        }
        Assert.Equal(0u, pool.InUse);
        Assert.True(lb.GuardsIntact());
    }

    [Fact]
    public void A_dequeue_whose_jobs_wait_staged_gets_them_copied_once_the_guest_sends_nothing_more()
    {
        using var lb = new Loopback(Loopback.With(), ringSize: 256, bufferSize: 4096);
        using Mempool pool = TestPools.Create(256);
        using var engine = new CopyEngine("hp-copy-full-deq", ringCount: 2);
        using CopyEngineChannel ch = engine.CreateChannel(capacity: 256);
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(1, new AsyncFeatures(true, 64).Value, ch));
        SplitRingDriver tx = lb.Tx[0];
        for (int i = 0; i < 2 * Burst; i++) AsyncDequeueTests.Post(tx, 1000 + i, (ulong)i);
        tx.Publish();
        nint* got = stackalloc nint[2 * Burst];
        Assert.True(engine.Pause(), "the copy thread did not stop");
        try
        {
            // Two calls take the two bursts: the first one's batch fills the engine's ring, the second waits staged.
            Assert.Equal(0, lb.Device.AsyncTryDequeueBurst(1, pool.Header, (Mbuf**)got, Burst, out int inflight));
            Assert.Equal(Burst, inflight);
            Assert.Equal(0, lb.Device.AsyncTryDequeueBurst(1, pool.Header, (Mbuf**)got, Burst, out inflight));
            Assert.Equal(2 * Burst, inflight);
            Assert.Equal((uint)Burst, ch.Staged);
        }
        finally
        {
            engine.Resume();
        }
        // The guest sends nothing more: the calls themselves must hand the staged jobs over.
        int n = 0;
        var deadline = DateTime.UtcNow + AsyncPackets.Wait;
        while (n < 2 * Burst && DateTime.UtcNow < deadline)
            n += lb.Device.AsyncTryDequeueBurst(1, pool.Header, (Mbuf**)got + n, (ushort)(2 * Burst - n), out _);
        Assert.Equal(2 * Burst, n);
        for (int i = 0; i < n; i++)
        {
            var m = (Mbuf*)got[i];
            Assert.True(Payload.Matches(HandMbufs.Bytes(m), (ulong)i), $"packet {i} differs");
            MbufOps.Free(m);
        }
        Assert.Equal(2 * Burst, tx.ReapTx());
        Assert.Equal(2L * Burst, engine.Packets);
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(1, out uint freed));
        Assert.Equal(0u, freed);
        Assert.Equal(0u, pool.InUse);
    }

    [Fact]
    public void Under_a_disposed_engine_the_cpu_copies_at_submit_and_the_packets_complete()
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.NetMrgRxbuf), ringSize: 256, bufferSize: 2048);
        using Mempool pool = TestPools.Create(64);
        var engine = new CopyEngine("hp-copy-gone");
        using CopyEngineChannel ch = engine.CreateChannel(capacity: 64);
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, new AsyncFeatures(true, 64).Value, ch));
        engine.Dispose();
        SplitRingDriver rx = lb.Rx[0];
        for (int i = 0; i < Burst; i++) Assert.True(rx.PostRx(2048));
        rx.Publish();
        Mbuf** p = stackalloc Mbuf*[Burst];
        for (int i = 0; i < Burst; i++) p[i] = AsyncPackets.FromPool(pool, Payload.Make(1500, (ulong)i));
        Assert.Equal(Burst, lb.Device.SubmitEnqueueBurst(0, p, Burst));
        List<nint> back = AsyncPackets.PollBack(lb.Device, 0, Burst);
        for (int i = 0; i < Burst; i++) Assert.True(back[i] == (nint)p[i], $"packet {i} handed back out of order");
        for (int i = 0; i < Burst; i++) MbufOps.Free(p[i]);
        var buf = new byte[2048];
        for (int i = 0; i < Burst; i++)
        {
            Assert.True(rx.TryReceive(buf, out RxInfo info), $"packet {i} missing");
            Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), (ulong)i), $"packet {i} differs");
        }
        Assert.Equal(0L, engine.Packets);
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(0, out uint freed));
        Assert.Equal(0u, freed);
        Assert.Equal(0u, pool.InUse);
    }
}
