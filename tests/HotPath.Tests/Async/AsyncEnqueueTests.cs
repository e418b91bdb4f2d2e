using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;

namespace HotPath.Tests.Async;

/// <summary>
/// Split-ring async enqueue (issue 19) over real memfd guest memory and HotPath's ring drivers: every packet, used
/// entry and dirty-log bit compared with the synchronous path given the same guest buffers, ring order with a channel
/// completing out of order and late, partial acceptance, the CPU threshold, the built-in copy engine.
/// </summary>
public unsafe class AsyncEnqueueTests
{
    private static ulong Features(bool mrg, bool log) =>
        Loopback.With(VirtioFeatures.RingEventIdx) | (mrg ? 1UL << VirtioFeatures.NetMrgRxbuf : 0) | (log ? 1UL << VirtioFeatures.LogAll : 0);

    /// <summary>Posts the RX buffers <paramref name="sizes"/> need (mergeable: 1536-byte chains; else one chain each).</summary>
    private static void PostFor(SplitRingDriver rx, IEnumerable<int> sizes, bool mrg)
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

    private sealed class Side : IDisposable
    {
        public readonly Loopback Lb;
        public readonly FrontendDirtyLog Log;
        public ushort Checked;

        public Side(bool mrg, bool log)
        {
            Lb = new Loopback(Features(mrg, log), ringSize: 256, bufferSize: 4096);
            Log = new FrontendDirtyLog(Lb.Memory.Regions.Max(r => r.GuestPhysAddr + r.Size));
            Lb.Attach.SetLogBase(Log);
        }

        public SplitRingDriver Rx => Lb.Rx[0];

        public void Dispose()
        {
            Lb.Dispose();
            Log.Dispose();
        }
    }

    /// <summary>With the dirty log on every packet takes the walk (the slow path); off, one-descriptor packets take
    /// the inline case of both bursts.</summary>
    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public void Async_enqueue_with_an_out_of_order_channel_matches_the_synchronous_path(bool mrg, bool log)
    {
        using var sync = new Side(mrg, log);
        using var asy = new Side(mrg, log);
        var ch = new ShuffledLateChannel(seed: 7);
        Assert.Equal(AsyncError.None, asy.Lb.Device.AsyncChannelRegister(0, new AsyncFeatures(false, 256).Value, ch));
        int[] sizes = AsyncPackets.Sizes(seed: 3, count: 48);
        ulong seq = 0;
        var a = new byte[16384];
        var b = new byte[16384];
        Mbuf** ps = stackalloc Mbuf*[8];
        Mbuf** pa = stackalloc Mbuf*[8];
        for (int at = 0; at < sizes.Length; at += 8)
        {
            int[] batch = sizes.Skip(at).Take(8).ToArray();
            PostFor(sync.Rx, batch, mrg);
            PostFor(asy.Rx, batch, mrg);
            for (int i = 0; i < batch.Length; i++)
            {
                // Every other packet in one segment (the inline case when its chain is one descriptor).
                byte[] pkt = Payload.Make(batch[i], seq + (ulong)i);
                int segData = i % 2 == 0 ? 1000 : 9100;
                ps[i] = HandMbufs.Make(pkt, segData);
                pa[i] = HandMbufs.Make(pkt, segData);
            }
            try
            {
                Assert.Equal(batch.Length, sync.Lb.Device.EnqueueBurst(0, ps, (ushort)batch.Length));
                Assert.Equal(batch.Length, asy.Lb.Device.SubmitEnqueueBurst(0, pa, (ushort)batch.Length));
                List<nint> back = AsyncPackets.PollBack(asy.Lb.Device, 0, batch.Length);
                // Handed back in submit order.
                for (int i = 0; i < batch.Length; i++) Assert.Equal((nint)pa[i], back[i]);
            }
            finally
            {
                for (int i = 0; i < batch.Length; i++)
                {
                    HandMbufs.Free(ps[i]);
                    HandMbufs.Free(pa[i]);
                }
            }
            // The same used entries, in the same order.
            Assert.Equal(sync.Rx.UsedIdx, asy.Rx.UsedIdx);
            for (ushort u = sync.Checked; u != sync.Rx.UsedIdx; u++)
            {
                VringUsedElem es = sync.Rx.RawUsed(u), ea = asy.Rx.RawUsed(u);
                Assert.Equal((es.Id, es.Len), (ea.Id, ea.Len));
            }
            sync.Checked = asy.Checked = sync.Rx.UsedIdx;
            for (int i = 0; i < batch.Length; i++, seq++)
            {
                Assert.True(sync.Rx.TryReceive(a, out RxInfo ia));
                Assert.True(asy.Rx.TryReceive(b, out RxInfo ib));
                Assert.Equal(batch[i], ib.Length);
                Assert.True(Payload.Matches(b.AsSpan(0, ib.Length), seq), $"{batch[i]}-byte packet differs");
                Assert.True(a.AsSpan(0, ia.Length).SequenceEqual(b.AsSpan(0, ib.Length)));
                Assert.Equal(ia.Header.NumBuffers, ib.Header.NumBuffers);
                Assert.Equal(ia.UsedLen, ib.UsedLen);
            }
        }
        var ds = new HashSet<ulong>();
        var da = new HashSet<ulong>();
        sync.Log.Collect(ds);
        asy.Log.Collect(da);
        Assert.Equal(log, ds.Count != 0);
        Assert.Equal(ds.Order(), da.Order());
        Assert.True(ch.OutOfOrderCompletions > 0, "the channel never completed out of order");
        Assert.Equal(ch.Transferred, ch.Completed);
        Assert.Equal(0, asy.Lb.Device.AsyncInflight(0));
        Assert.True(asy.Lb.GuardsIntact());
        Assert.Equal(0UL, asy.Lb.RxVring().Stats.TotalDrops);
    }

    [Fact]
    public void The_guest_sees_no_used_entry_until_every_copy_of_that_packet_and_the_earlier_ones_completed()
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.NetMrgRxbuf), ringSize: 64, bufferSize: 2048);
        var ch = new ShuffledLateChannel(seed: 1) { Hold = true };
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, new AsyncFeatures(false, 0).Value, ch));
        SplitRingDriver rx = lb.Rx[0];
        PostFor(rx, Enumerable.Repeat(1500, 16), mrg: true);
        Mbuf** p = stackalloc Mbuf*[16];
        for (int i = 0; i < 16; i++) p[i] = HandMbufs.Make(Payload.Make(1500, (ulong)i));
        try
        {
            Assert.Equal(16, lb.Device.SubmitEnqueueBurst(0, p, 16));
            Assert.Equal(16, lb.Device.AsyncInflight(0));
            Assert.Equal(0, lb.Device.PollEnqueueCompleted(0, p, 16));
            Assert.Equal(0, rx.UsedIdx);   // reserved, not used
            ch.Hold = false;
            // Whatever the channel completes, the used index only ever covers a prefix of complete packets.
            var buf = new byte[2048];
            ulong next = 0;
            var deadline = DateTime.UtcNow + AsyncPackets.Wait;
            int back = 0;
            Mbuf** ret = stackalloc Mbuf*[16];
            while (next < 16)
            {
                back += lb.Device.PollEnqueueCompleted(0, ret, 16);
                while (rx.TryReceive(buf, out RxInfo info))
                {
                    Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), next), $"packet {next} published before its bytes");
                    next++;
                }
                Assert.True(DateTime.UtcNow < deadline);
            }
            back += lb.Device.PollEnqueueCompleted(0, ret, 16);
            Assert.Equal(16, back);
            Assert.True(ch.OutOfOrderCompletions > 0);
        }
        finally
        {
            for (int i = 0; i < 16; i++) HandMbufs.Free(p[i]);
        }
    }

    [Theory]
    [InlineData(true, 0)]      // in-order channel, everything through it
    [InlineData(false, 1)]     // out of order, accepting one packet per call: the device copies the rest
    [InlineData(false, 4095)]  // a threshold above every segment: the CPU copies all at submit
    public void Partial_acceptance_in_order_channels_and_the_cpu_threshold_deliver_the_same_bytes(bool inOrder, int variant)
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.NetMrgRxbuf), ringSize: 256, bufferSize: 2048);
        var ch = new ShuffledLateChannel(seed: 9, inOrder) { AcceptPerCall = variant == 1 ? 1 : int.MaxValue };
        uint threshold = variant == 4095 ? 4095u : 0;
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, new AsyncFeatures(inOrder, threshold).Value, ch));
        SplitRingDriver rx = lb.Rx[0];
        int[] sizes = AsyncPackets.Sizes(seed: 4, count: 24);
        PostFor(rx, sizes, mrg: true);
        Mbuf** p = stackalloc Mbuf*[sizes.Length];
        for (int i = 0; i < sizes.Length; i++) p[i] = HandMbufs.Make(Payload.Make(sizes[i], (ulong)i), segData: 1500);
        try
        {
            Assert.Equal(sizes.Length, lb.Device.SubmitEnqueueBurst(0, p, (ushort)sizes.Length));
            AsyncPackets.PollBack(lb.Device, 0, sizes.Length);
            var buf = new byte[16384];
            for (int i = 0; i < sizes.Length; i++)
            {
                Assert.True(rx.TryReceive(buf, out RxInfo info));
                Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), (ulong)i), $"{sizes[i]}-byte packet differs");
            }
            if (variant == 4095) Assert.Equal(0, ch.Transferred);
            else if (variant == 1) Assert.Equal(1, ch.Transferred);
            else Assert.Equal(sizes.Length, ch.Transferred);
        }
        finally
        {
            for (int i = 0; i < sizes.Length; i++) HandMbufs.Free(p[i]);
        }
    }

    /// <summary>SECURITY.md 11/22: a guest that moves avail.idx on while its chains are still with the device (re-offering
    /// them) gets nothing more than a ring's worth: no chain is reserved twice, no used entry written twice.</summary>
    [Fact]
    public void A_guest_re_offering_chains_that_are_still_being_copied_gets_no_more_than_a_ring()
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.NetMrgRxbuf), ringSize: 8, bufferSize: 2048);
        var ch = new ShuffledLateChannel(seed: 2) { Hold = true };
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, 0, ch));
        SplitRingDriver rx = lb.Rx[0];
        for (int i = 0; i < 8; i++) Assert.True(rx.PostRx(2048));
        rx.Publish();
        Mbuf** p = stackalloc Mbuf*[16];
        for (int i = 0; i < 16; i++) p[i] = HandMbufs.Make(Payload.Make(1000, (ulong)i));
        try
        {
            Assert.Equal(8, lb.Device.SubmitEnqueueBurst(0, p, 8));
            // The same eight heads offered again (the avail ring's slots still hold them), one lap on.
            rx.RawSetAvailIdx(16);
            Assert.Equal(0, lb.Device.SubmitEnqueueBurst(0, p + 8, 8));
            Assert.Equal(0, lb.RxVring().LastUsedIdx);
            ch.Hold = false;
            List<nint> back = AsyncPackets.PollBack(lb.Device, 0, 8);
            Assert.Equal(8, back.Count);
            Assert.Equal(8, rx.UsedIdx);   // each reserved chain used once
            Assert.Equal(8, lb.RxVring().LastAvailIdx);
            Assert.Equal(0, lb.Device.AsyncInflight(0));
        }
        finally
        {
            for (int i = 0; i < 16; i++) HandMbufs.Free(p[i]);
        }
    }

    [Fact]
    public void Registration_is_refused_for_unknown_queues_reserved_feature_bits_and_twice()
    {
        using var lb = new Loopback();
        var ch = new ShuffledLateChannel(seed: 1);
        Assert.Equal(AsyncError.BadQueue, lb.Device.AsyncChannelRegister(-1, 0, ch));
        Assert.Equal(AsyncError.BadQueue, lb.Device.AsyncChannelRegister(HotPath.Engine.VhostDevice.MaxVrings, 0, ch));
        Assert.Equal(AsyncError.BadFeatures, lb.Device.AsyncChannelRegister(0, 2, ch));
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, 0, ch));
        Assert.Equal(AsyncError.AlreadyRegistered, lb.Device.AsyncChannelRegister(0, 0, ch));
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(0, out uint freed));
        Assert.Equal(0u, freed);
        Assert.Equal(AsyncError.NotRegistered, lb.Device.AsyncChannelUnregister(0, out _));
        // Without a channel, submit and poll move nothing.
        Mbuf* m = HandMbufs.Make(Payload.Make(64, 1));
        try
        {
            Assert.Equal(0, lb.Device.SubmitEnqueueBurst(0, &m, 1));
            Assert.Equal(-1, lb.Device.AsyncInflight(0));
        }
        finally { HandMbufs.Free(m); }
    }
}
