using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;

namespace HotPath.Tests.Async;

/// <summary>
/// Split-ring async enqueue (issue 19) over real memfd guest memory and HotPath's ring drivers: partial acceptance,
/// in-order channels and the CPU threshold, a guest re-offering chains. The round trips against the synchronous path
/// and ring order, for both ring types, are <see cref="AsyncRoundTrips{TDriver}"/>.
/// </summary>
public unsafe class AsyncEnqueueTests
{
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
        AsyncPackets.PostFor(rx, sizes, mrg: true);
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
            ch.Hold = false;   // a failed assertion must not leave the teardown waiting for the channel
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
