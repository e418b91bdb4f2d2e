using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;

namespace HotPath.Tests.Async;

/// <summary>Which channel a round trip copies through: the out-of-order late test channel, or the built-in engine.</summary>
public enum AsyncChannelKind { Shuffled, Engine }

/// <summary>
/// Byte-exact round trips through the async enqueue (issue 19's first "done when"), written once over the ring type:
/// 64 to 9000-byte packets in mbufs of one or several segments, into chains of one or several descriptors (or several
/// mergeable buffers), through the out-of-order late test channel and the built-in copy engine. The same traffic runs
/// through the synchronous enqueue on a second device given the same guest buffers (the model): the used entries the
/// guest sees (slot, id, length, in order), every packet's bytes and header, and the dirty-log bits must be the same.
/// The bursts wrap the rings (packed: the wrap counters) once or twice.
/// </summary>
public abstract unsafe class AsyncRoundTrips<TDriver> where TDriver : class, IRingDriver
{
    /// <summary>The round trips' ring: a packed ring's descriptors fill one page of their own (the event areas follow
    /// on the next), so the used descriptors' dirty bits are told apart from the device area's.</summary>
    private const uint RingSize = 256;
    /// <summary>The stream's ring: small, so pending entries span its end often.</summary>
    private const uint StreamRingSize = 64;
    private const uint BufferSize = 4096;

    private sealed class Side : IDisposable
    {
        public readonly Loopback<TDriver> Lb;
        public readonly FrontendDirtyLog Log;

        public Side(ulong features)
        {
            Lb = Loopbacks.Create<TDriver>(features, RingSize, BufferSize);
            Log = new FrontendDirtyLog(Lb.Memory.Regions.Max(r => r.GuestPhysAddr + r.Size));
            Lb.Attach.SetLogBase(Log);
        }

        public TDriver Rx => Lb.Rx[0];

        public void Dispose()
        {
            Lb.Dispose();
            Log.Dispose();
        }
    }

    /// <summary>With the dirty log on every packet takes the walk (the slow path); off, one-descriptor one-segment
    /// packets take the inline case of both bursts.</summary>
    [Theory]
    [InlineData(false, false, AsyncChannelKind.Shuffled)]
    [InlineData(true, false, AsyncChannelKind.Shuffled)]
    [InlineData(false, true, AsyncChannelKind.Shuffled)]
    [InlineData(true, true, AsyncChannelKind.Shuffled)]
    [InlineData(false, false, AsyncChannelKind.Engine)]
    [InlineData(true, true, AsyncChannelKind.Engine)]
    public void Async_round_trips_match_the_synchronous_model_byte_for_byte(bool mrg, bool log, AsyncChannelKind kind)
    {
        using var sync = new Side(AsyncPackets.Features(mrg, log));
        using var asy = new Side(AsyncPackets.Features(mrg, log));
        ShuffledLateChannel? shuffled = null;
        CopyEngine? engine = null;
        CopyEngineChannel? engineChannel = null;
        if (kind == AsyncChannelKind.Shuffled)
        {
            shuffled = new ShuffledLateChannel(seed: 11);
            Assert.Equal(AsyncError.None, asy.Lb.Device.AsyncChannelRegister(0, new AsyncFeatures(false, 256).Value, shuffled));
        }
        else
        {
            engine = new CopyEngine("hp-copy-rt");
            engineChannel = engine.CreateChannel();
            Assert.Equal(AsyncError.None, asy.Lb.Device.AsyncChannelRegister(0, new AsyncFeatures(true, 64).Value, engineChannel));
        }
        try
        {
            Run(sync, asy, mrg);
            var ds = new HashSet<ulong>();
            var da = new HashSet<ulong>();
            sync.Log.Collect(ds);
            asy.Log.Collect(da);
            Assert.Equal(log, ds.Count != 0);
            Assert.Equal(ds.Order(), da.Order());
            if (shuffled != null)
            {
                Assert.True(shuffled.OutOfOrderCompletions > 0, "the channel never completed out of order");
                Assert.Equal(shuffled.Transferred, shuffled.Completed);
                Assert.True(shuffled.Transferred > 0);
            }
            else Assert.True(engine!.Packets > 0);
            Assert.Equal(0, asy.Lb.Device.AsyncInflight(0));
            Assert.True(asy.Lb.GuardsIntact());
            Assert.Equal(0UL, asy.Lb.RxVring().Stats.TotalDrops);
            Assert.Equal(sync.Lb.RxVring().LastUsedIdx, asy.Lb.RxVring().LastUsedIdx);
            Assert.Equal(sync.Lb.RxVring().UsedWrapCounter, asy.Lb.RxVring().UsedWrapCounter);
        }
        finally
        {
            Assert.Equal(AsyncError.None, asy.Lb.Device.AsyncChannelUnregister(0, out _));
            engineChannel?.Dispose();
            engine?.Dispose();
        }
    }

    /// <summary>
    /// A stream: the application submits while earlier packets are still being copied (their used entries pending, so
    /// a submit writes after them, across the ring's end), polls back whatever completed, and the guest posts buffers as
    /// it takes packets. Every packet arrives once, in order, byte-exact; every mbuf comes back.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_stream_submitted_while_copies_are_in_flight_arrives_in_order_and_byte_exact(bool mrg)
    {
        using Loopback<TDriver> lb = Loopbacks.Create<TDriver>(AsyncPackets.Features(mrg, log: false), StreamRingSize, BufferSize);
        var ch = new ShuffledLateChannel(seed: 13) { MinPolls = 3 };
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, new AsyncFeatures(false, 128).Value, ch));
        TDriver rx = lb.Rx[0];
        int[] sizes = AsyncPackets.Sizes(seed: 6, count: 400);
        int[] segData = { 9100, 1000, 3000 };
        var ready = new Queue<nint>();
        var submitted = new Queue<nint>();
        for (int i = 0; i < sizes.Length; i++)
            ready.Enqueue((nint)HandMbufs.Make(Payload.Make(sizes[i], (ulong)i), segData[i % segData.Length]));
        nint* burst = stackalloc nint[8];
        nint* back = stackalloc nint[64];
        var buf = new byte[16384];
        int received = 0, returned = 0, maxInflight = 0;
        var deadline = DateTime.UtcNow + AsyncPackets.Wait;
        try
        {
            while (received < sizes.Length)
            {
                Assert.True(DateTime.UtcNow < deadline, $"{received} of {sizes.Length} packets arrived");
                // The guest posts what fits: 1536-byte mergeable buffers, or 3-descriptor chains any packet fits.
                if (mrg) while (rx.FreeDescriptors > 0 && rx.PostRx(1536)) { }
                else while (rx.FreeDescriptors >= 3 && rx.PostRx(9100, 3)) { }
                rx.Publish();
                int k = Math.Min(8, ready.Count);
                for (int i = 0; i < k; i++) burst[i] = ready.ElementAt(i);
                ushort taken = lb.Device.SubmitEnqueueBurst(0, new ReadOnlySpan<nint>(burst, k));
                for (int i = 0; i < taken; i++) submitted.Enqueue(ready.Dequeue());
                maxInflight = Math.Max(maxInflight, lb.Device.AsyncInflight(0));
                ushort n = lb.Device.PollEnqueueCompleted(0, new Span<nint>(back, 64));
                for (int i = 0; i < n; i++)
                {
                    Assert.Equal(submitted.Dequeue(), back[i]);   // handed back in submit order
                    HandMbufs.Free((Mbuf*)back[i]);
                    returned++;
                }
                while (rx.TryReceive(buf, out RxInfo info))
                {
                    Assert.Equal(sizes[received], info.Length);
                    Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), (ulong)received), $"packet {received} ({info.Length} B) differs");
                    received++;
                }
            }
            foreach (nint m in AsyncPackets.PollBack(lb.Device, 0, sizes.Length - returned))
            {
                Assert.Equal(submitted.Dequeue(), m);
                HandMbufs.Free((Mbuf*)m);
                returned++;
            }
            Assert.Equal(sizes.Length, returned);
            Assert.True(maxInflight > 8, $"at most {maxInflight} packets were in flight: no submit ran behind pending ones");
            Assert.True(ch.OutOfOrderCompletions > 0);
            Assert.Equal(0, lb.Device.AsyncInflight(0));
            Assert.Equal(0UL, lb.RxVring().Stats.TotalDrops);
            Assert.True(lb.GuardsIntact());
        }
        finally
        {
            while (ready.Count > 0) HandMbufs.Free((Mbuf*)ready.Dequeue());
            // Still with the device after a failure: settled and forgotten by the unregister, then freed.
            lb.Device.AsyncChannelUnregister(0, out _);
            while (submitted.Count > 0) HandMbufs.Free((Mbuf*)submitted.Dequeue());
        }
    }

    [Fact]
    public void The_guest_sees_no_used_entry_until_every_copy_of_that_packet_and_the_earlier_ones_completed()
    {
        using Loopback<TDriver> lb = Loopbacks.Create<TDriver>(Loopback.With(VirtioFeatures.NetMrgRxbuf), ringSize: 64, bufferSize: 2048);
        var ch = new ShuffledLateChannel(seed: 1) { Hold = true };
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, new AsyncFeatures(false, 0).Value, ch));
        TDriver rx = lb.Rx[0];
        for (int i = 0; i < 40; i++) Assert.True(rx.PostRx(2048));
        rx.Publish();
        const int N = 24;
        Mbuf** p = stackalloc Mbuf*[N];
        // 3000-byte packets take two mergeable buffers each: 36 of the 40 posted.
        for (int i = 0; i < N; i++) p[i] = HandMbufs.Make(Payload.Make(i % 2 == 0 ? 3000 : 1500, (ulong)i), segData: 1000);
        try
        {
            Assert.Equal(N, lb.Device.SubmitEnqueueBurst(0, p, N));
            Assert.Equal(N, lb.Device.AsyncInflight(0));
            Assert.Equal(0, lb.Device.PollEnqueueCompleted(0, p, N));
            Assert.Empty(AsyncPackets.UsedSeen(rx));   // reserved, not used
            Assert.Equal(0, lb.RxVring().LastUsedIdx);
            ch.Hold = false;
            var buf = new byte[4096];
            ulong next = 0;
            int back = 0;
            Mbuf** ret = stackalloc Mbuf*[N];
            var deadline = DateTime.UtcNow + AsyncPackets.Wait;
            while (next < N)
            {
                back += lb.Device.PollEnqueueCompleted(0, ret, N);
                // Whatever the channel completed, the used entries only ever cover a prefix of complete packets.
                while (rx.TryReceive(buf, out RxInfo info))
                {
                    Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), next), $"packet {next} published before its bytes");
                    next++;
                }
                Assert.True(DateTime.UtcNow < deadline);
            }
            back += lb.Device.PollEnqueueCompleted(0, ret, N);
            Assert.Equal(N, back);
            Assert.True(ch.OutOfOrderCompletions > 0);
            Assert.True(lb.GuardsIntact());
        }
        finally
        {
            ch.Hold = false;   // a failed assertion must not leave the device's teardown waiting for the channel
            for (int i = 0; i < N; i++) HandMbufs.Free(p[i]);
        }
    }

    private static void Run(Side sync, Side asy, bool mrg)
    {
        int[] sizes = AsyncPackets.Sizes(seed: 5, count: 240);
        ulong seq = 0;
        var a = new byte[16384];
        var b = new byte[16384];
        const int Burst = 8;
        Mbuf** ps = stackalloc Mbuf*[Burst];
        Mbuf** pa = stackalloc Mbuf*[Burst];
        int[] segData = { 9100, 1000, 700, 4096 };   // one segment, or several (9000 B: up to 13)
        for (int at = 0; at < sizes.Length; at += Burst)
        {
            int[] batch = sizes.Skip(at).Take(Burst).ToArray();
            AsyncPackets.PostFor(sync.Rx, batch, mrg);
            AsyncPackets.PostFor(asy.Rx, batch, mrg);
            for (int i = 0; i < batch.Length; i++)
            {
                byte[] pkt = Payload.Make(batch[i], seq + (ulong)i);
                ps[i] = HandMbufs.Make(pkt, segData[(at + i) % segData.Length]);
                pa[i] = HandMbufs.Make(pkt, segData[(at + i) % segData.Length]);
            }
            try
            {
                Assert.Equal(batch.Length, sync.Lb.Device.EnqueueBurst(0, ps, (ushort)batch.Length));
                Assert.Equal(batch.Length, asy.Lb.Device.SubmitEnqueueBurst(0, pa, (ushort)batch.Length));
                List<nint> back = AsyncPackets.PollBack(asy.Lb.Device, 0, batch.Length);
                for (int i = 0; i < batch.Length; i++) Assert.Equal((nint)pa[i], back[i]);   // submit order
            }
            finally
            {
                for (int i = 0; i < batch.Length; i++)
                {
                    HandMbufs.Free(ps[i]);
                    HandMbufs.Free(pa[i]);
                }
            }
            // The used entries the guest sees: the same slots, ids and lengths, in the same order.
            List<(uint, uint, uint)> us = AsyncPackets.UsedSeen(sync.Rx), ua = AsyncPackets.UsedSeen(asy.Rx);
            Assert.True(us.Count >= batch.Length);
            Assert.Equal(us, ua);
            for (int i = 0; i < batch.Length; i++, seq++)
            {
                Assert.True(sync.Rx.TryReceive(a, out RxInfo ia));
                Assert.True(asy.Rx.TryReceive(b, out RxInfo ib));
                Assert.Equal(batch[i], ib.Length);
                Assert.True(Payload.Matches(b.AsSpan(0, ib.Length), seq), $"{batch[i]}-byte packet differs");
                Assert.True(a.AsSpan(0, ia.Length).SequenceEqual(b.AsSpan(0, ib.Length)));
                Assert.Equal(ia.Header.NumBuffers, ib.Header.NumBuffers);
                Assert.Equal(ia.UsedLen, ib.UsedLen);
                Assert.Equal(ia.Buffers, ib.Buffers);
            }
            Assert.False(asy.Rx.TryReceive(b, out _));
        }
    }
}

/// <summary>Split rings: <see cref="AsyncRoundTrips{TDriver}"/>.</summary>
public sealed class AsyncSplitRoundTripTests : AsyncRoundTrips<SplitRingDriver>;

/// <summary>Packed rings: <see cref="AsyncRoundTrips{TDriver}"/>.</summary>
public sealed class AsyncPackedRoundTripTests : AsyncRoundTrips<PackedRingDriver>;
