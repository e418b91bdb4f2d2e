using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;
using HotPath.Tests.Migration;

namespace HotPath.Tests.Async;

/// <summary>The built-in copy engine: a copy thread fed by a HotPath ring (issue 19).</summary>
public unsafe class AsyncCopyEngineTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void The_built_in_engine_delivers_64_to_9000_byte_packets_byte_exact_and_allocates_nothing(bool mrg, bool packed)
    {
        if (packed) DeliversWithoutAllocating<PackedRingDriver>(mrg);
        else DeliversWithoutAllocating<SplitRingDriver>(mrg);
    }

    private static void DeliversWithoutAllocating<TDriver>(bool mrg) where TDriver : class, IRingDriver
    {
        ulong features = mrg ? Loopback.With(VirtioFeatures.NetMrgRxbuf) : Loopback.With();
        using Loopback<TDriver> lb = Loopbacks.Create<TDriver>(features, ringSize: 256, bufferSize: 4096);
        using var engine = new CopyEngine("hp-copy-test");
        using CopyEngineChannel ch = engine.CreateChannel();
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, new AsyncFeatures(true, 64).Value, ch));
        TDriver rx = lb.Rx[0];
        int hdr = rx.HeaderSize;
        int[] sizes = AsyncPackets.Sizes(seed: 8, count: 32);
        Mbuf** p = stackalloc Mbuf*[sizes.Length];
        Mbuf** back = stackalloc Mbuf*[sizes.Length];
        for (int i = 0; i < sizes.Length; i++) p[i] = HandMbufs.Make(Payload.Make(sizes[i], (ulong)i), segData: 2000);
        var buf = new byte[16384];
        try
        {
            for (int round = 0; round < 4; round++)
            {
                foreach (int size in sizes)
                {
                    uint need = (uint)(size + hdr);
                    if (mrg)
                        for (uint i = 0; i < (need + 4095) / 4096; i++) Assert.True(rx.PostRx(4096));
                    else Assert.True(rx.PostRx(need, (int)((need + 4095) / 4096)));
                }
                rx.Publish();
                // Rounds after the first are measured: submit and poll allocate nothing.
                long before = GC.GetAllocatedBytesForCurrentThread();
                ushort n = lb.Device.SubmitEnqueueBurst(0, p, (ushort)sizes.Length);
                int got = 0;
                var deadline = DateTime.UtcNow + AsyncPackets.Wait;
                while (got < n && DateTime.UtcNow < deadline) got += lb.Device.PollEnqueueCompleted(0, back + got, (ushort)(n - got));
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.Equal(sizes.Length, n);
                Assert.Equal(n, got);
                if (round > 0) Assert.Equal(0L, allocated);
                for (int i = 0; i < sizes.Length; i++)
                {
                    Assert.True(back[i] == p[i]);
                    Assert.True(rx.TryReceive(buf, out RxInfo info));
                    Assert.Equal(sizes[i], info.Length);
                    Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), (ulong)i), $"{sizes[i]}-byte packet differs");
                }
            }
            // DPDK's inflight_submitted / inflight_completed: every packet of the 4 rounds went in and came back.
            VringStats stats = lb.RxVring().Stats;
            Assert.Equal(4UL * (ulong)sizes.Length, stats[VringStats.InflightSubmitted]);
            Assert.Equal(4UL * (ulong)sizes.Length, stats[VringStats.InflightCompleted]);
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(0, out uint freed));
            Assert.Equal(0u, freed);
            Assert.True(engine.Packets > 0);
            Assert.True(lb.GuardsIntact());
        }
        finally
        {
            for (int i = 0; i < sizes.Length; i++) HandMbufs.Free(p[i]);
        }
    }

    [Fact]
    public void Two_polling_threads_share_one_engine_and_each_queue_gets_its_own_packets_in_order()
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.NetMrgRxbuf), ringSize: 256, bufferSize: 2048, queuePairs: 2);
        using var engine = new CopyEngine("hp-copy-shared");
        using CopyEngineChannel c0 = engine.CreateChannel(), c1 = engine.CreateChannel();
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, new AsyncFeatures(true, 0).Value, c0));
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(2, new AsyncFeatures(true, 0).Value, c1));
        const int Rounds = 40, Burst = 32;
        var errors = new string?[2];
        void Queue(int qp)
        {
            SplitRingDriver rx = lb.Rx[qp];
            var buf = new byte[2048];
            Mbuf** p = stackalloc Mbuf*[Burst];
            Mbuf** back = stackalloc Mbuf*[Burst];
            ulong seq = (ulong)qp << 32;
            for (int r = 0; r < Rounds && errors[qp] == null; r++)
            {
                for (int i = 0; i < Burst; i++) rx.PostRx(2048);
                rx.Publish();
                for (int i = 0; i < Burst; i++) p[i] = HandMbufs.Make(Payload.Make(100 + 40 * i, seq + (ulong)i));
                int n = lb.Device.SubmitEnqueueBurst(2 * qp, p, Burst), got = 0;
                var deadline = DateTime.UtcNow + AsyncPackets.Wait;
                while (got < n && DateTime.UtcNow < deadline) got += lb.Device.PollEnqueueCompleted(2 * qp, back + got, (ushort)(n - got));
                for (int i = 0; i < got; i++)
                {
                    if (back[i] != p[i]) errors[qp] ??= $"q{qp}: packet {i} handed back out of order";
                    if (!rx.TryReceive(buf, out RxInfo info) || !Payload.Matches(buf.AsSpan(0, info.Length), seq + (ulong)i))
                        errors[qp] ??= $"q{qp}: round {r} packet {i} differs";
                }
                if (n != Burst || got != n)
                {
                    errors[qp] ??= $"q{qp}: round {r}: submitted {n}, completed {got}";
                    return;   // the mbufs may still be read by the engine: leave them
                }
                for (int i = 0; i < Burst; i++) HandMbufs.Free(p[i]);
                seq += Burst;
            }
        }
        var t = new Thread(() => Queue(1));
        t.Start();
        Queue(0);
        Assert.True(t.Join(AsyncPackets.Wait));
        Assert.Null(errors[0]);
        Assert.Null(errors[1]);
        Assert.Equal(2L * Rounds * Burst, engine.Packets);
        Assert.True(lb.GuardsIntact());
    }

    [Fact]
    public void A_guest_flood_through_the_engine_survives_a_disconnect_mid_flood_and_loses_no_mbuf()
    {
        var lb = new SocketLoopback("async-flood", ringSize: 256);
        using var engine = new CopyEngine("hp-copy-flood");
        using CopyEngineChannel ch = engine.CreateChannel();
        try
        {
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, new AsyncFeatures(true, 256).Value, ch));
            nint* burst = stackalloc nint[32];
            for (int round = 0; round < 200; round++)
            {
                lb.Guest.Send(32, s => 64 + (int)(s * 37 % 1450));
                ushort n = lb.Device.DequeueBurst(1, lb.Pool, new Span<nint>(burst, 32));
                ushort k = lb.Device.SubmitEnqueueBurst(0, new ReadOnlySpan<nint>(burst, n));
                MbufOps.FreeBulk((Mbuf**)burst + k, (uint)(n - k));
                ushort c = lb.Device.PollEnqueueCompleted(0, new Span<nint>(burst, 32));
                MbufOps.FreeBulk((Mbuf**)burst, c);
                lb.Guest.Collect();
            }
            Assert.True(lb.Guest.Received > 0);
            // One more burst in flight, then the guest disconnects.
            lb.Guest.Send(32, _ => 1400);
            ushort last = lb.Device.DequeueBurst(1, lb.Pool, new Span<nint>(burst, 32));
            ushort taken = lb.Device.SubmitEnqueueBurst(0, new ReadOnlySpan<nint>(burst, last));
            MbufOps.FreeBulk((Mbuf**)burst + taken, (uint)(last - taken));
            lb.Frontend.Dispose();
            AsyncPackets.WaitFor(() => lb.Pool.InUse == 0, "every mbuf back in the pool");
            Assert.Equal(0u, ch.InFlight);
        }
        finally
        {
            lb.Dispose();
        }
    }
}
