using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;

namespace HotPath.Tests.Async;

/// <summary>
/// The inline runs (in-order built-in engine; the enqueue submits and the dequeue) inside mixed bursts: packets the CPU copies (under the
/// threshold) and packets of the slow path (several mbuf segments) before, between and after runs. Every packet
/// reaches the guest byte-exact, in order, with its used length, and comes back in submit order; the engine copied
/// exactly the run and slow-path packets.
/// </summary>
public unsafe class AsyncInlineRunTests
{
    private const uint Threshold = 256;

    // Small (CPU), run, run, small, slow path (two segments), run, small, run ... : CPU entries precede runs.
    private static readonly int[] Pattern = [100, 1500, 1400, 90, 3000, 1300, 200, 1200, 1100, 64, 2500, 80, 1518];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Mixed_bursts_keep_ring_order_and_bytes(bool packed)
    {
        if (packed) Mixed<PackedRingDriver>();
        else Mixed<SplitRingDriver>();
    }

    private static void Mixed<TDriver>() where TDriver : class, IRingDriver
    {
        using Loopback<TDriver> lb = Loopbacks.Create<TDriver>(Loopback.With(VirtioFeatures.NetMrgRxbuf), ringSize: 256, bufferSize: 2048);
        using Mempool pool = TestPools.Create(256);
        using var engine = new CopyEngine("hp-copy-runs");
        using CopyEngineChannel ch = engine.CreateChannel();
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, new AsyncFeatures(true, Threshold).Value, ch));
        TDriver rx = lb.Rx[0];
        int hdr = rx.HeaderSize;
        var buf = new byte[16384];
        long engineCopies = 0;
        Mbuf** p = stackalloc Mbuf*[Pattern.Length];
        for (int round = 0; round < 6; round++)
        {
            // Rotate the pattern: each round starts the burst on a different kind of packet.
            int n = Pattern.Length;
            int[] sizes = new int[n];
            for (int i = 0; i < n; i++) sizes[i] = Pattern[(i + round) % n];
            foreach (int size in sizes)
                for (int k = 0; k < (size + hdr + 2047) / 2048; k++) Assert.True(rx.PostRx(2048));
            rx.Publish();
            for (int i = 0; i < n; i++)
            {
                ulong tag = (ulong)(round * 100 + i);
                // Over 2000 bytes: two mbuf segments (the slow path); else one.
                p[i] = sizes[i] > 2000 ? TwoSegments(pool, Payload.Make(sizes[i], tag)) : AsyncPackets.FromPool(pool, Payload.Make(sizes[i], tag));
                if (sizes[i] >= Threshold) engineCopies++;
            }
            // With the engine held, the submit publishes only the CPU-copied packets before the first engine packet.
            int lead = 0;
            while (lead < n && sizes[lead] < Threshold) lead++;
            Assert.True(engine.Pause(), "the copy thread did not stop");
            try
            {
                Assert.Equal(n, lb.Device.SubmitEnqueueBurst(0, p, (ushort)n));
                Assert.Equal(lead, AsyncPackets.UsedSeen(rx).Count);
            }
            finally
            {
                engine.Resume();
            }
            List<nint> back = AsyncPackets.PollBack(lb.Device, 0, n);
            for (int i = 0; i < n; i++)
            {
                Assert.True(back[i] == (nint)p[i], $"round {round}: packet {i} handed back out of order");
                Assert.True(rx.TryReceive(buf, out RxInfo info), $"round {round}: packet {i} missing");
                Assert.Equal(sizes[i], info.Length);
                Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), (ulong)(round * 100 + i)), $"round {round}: {sizes[i]}-byte packet {i} differs");
                MbufOps.Free(p[i]);
            }
            Assert.False(rx.TryReceive(buf, out _), $"round {round}: an extra packet");
        }
        // Two-segment packets give the engine one job with two copies; one-segment ones one job each.
        AsyncPackets.WaitFor(() => engine.Packets == engineCopies, "the engine's packet count");
        Assert.Equal(0UL, lb.RxVring().Async!.CpuFallbacks);
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(0, out uint freed));
        Assert.Equal(0u, freed);
        Assert.Equal(0u, pool.InUse);
        Assert.True(lb.GuardsIntact());
    }

    [Fact]
    public void Mixed_dequeue_bursts_keep_ring_order_and_bytes()
    {
        using var lb = new Loopback(Loopback.With(), ringSize: 256, bufferSize: 4096);
        using Mempool pool = TestPools.Create(256);
        using var engine = new CopyEngine("hp-copy-deq-runs");
        using CopyEngineChannel ch = engine.CreateChannel();
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(1, new AsyncFeatures(true, Threshold).Value, ch));
        SplitRingDriver tx = lb.Tx[0];
        int n = Pattern.Length;
        nint* got = stackalloc nint[n];
        long engineCopies = 0;
        for (int round = 0; round < 6; round++)
        {
            int[] sizes = new int[n];
            for (int i = 0; i < n; i++) sizes[i] = Pattern[(i + round) % n];
            for (int i = 0; i < n; i++)
            {
                // Over 2000 bytes: header and data in separate descriptors (the slow path's walk); else one.
                TxShape shape = sizes[i] > 2000 ? TxShape.HeaderApart : TxShape.Single;
                Assert.True(tx.PostTx(new byte[tx.HeaderSize], Payload.Make(sizes[i], (ulong)(round * 100 + i)), shape));
                if (sizes[i] >= Threshold) engineCopies++;
            }
            tx.Publish();
            int lead = 0;
            while (lead < n && sizes[lead] < Threshold) lead++;
            int have;
            Assert.True(engine.Pause(), "the copy thread did not stop");
            try
            {
                // With the engine held, one call returns (and uses) only the CPU-copied packets before the first engine one.
                have = lb.Device.AsyncTryDequeueBurst(1, pool.Header, (Mbuf**)got, (ushort)n, out int inflight);
                Assert.Equal(lead, have);
                Assert.Equal(n - lead, inflight);
                Assert.Equal(lead, AsyncPackets.UsedSeen(tx).Count);
            }
            finally
            {
                engine.Resume();
            }
            var deadline = DateTime.UtcNow + AsyncPackets.Wait;
            while (have < n && DateTime.UtcNow < deadline)
                have += lb.Device.AsyncTryDequeueBurst(1, pool.Header, (Mbuf**)got + have, (ushort)(n - have), out _);
            Assert.Equal(n, have);
            for (int i = 0; i < n; i++)
            {
                var m = (Mbuf*)got[i];
                Assert.Equal((uint)sizes[i], m->PktLen);
                Assert.True(Payload.Matches(HandMbufs.Bytes(m), (ulong)(round * 100 + i)), $"round {round}: {sizes[i]}-byte packet {i} differs");
                MbufOps.Free(m);
            }
            Assert.Equal(n, tx.ReapTx());
        }
        AsyncPackets.WaitFor(() => engine.Packets == engineCopies, "the engine's packet count");
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(1, out uint freed));
        Assert.Equal(0u, freed);
        Assert.Equal(0u, pool.InUse);
        Assert.True(lb.GuardsIntact());
    }

    private static Mbuf* TwoSegments(Mempool pool, byte[] data)
    {
        int half = data.Length / 2;
        Mbuf* head = AsyncPackets.FromPool(pool, data.AsSpan(0, half));
        Mbuf* tail = AsyncPackets.FromPool(pool, data.AsSpan(half));
        head->Next = tail;
        head->NbSegs = 2;
        head->PktLen = (uint)data.Length;
        return head;
    }
}
