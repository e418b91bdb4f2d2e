using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;

namespace HotPath.Tests.Async;

/// <summary>
/// What is particular to the packed ring's async enqueue: a guest flipping reserved descriptors to the next lap gets
/// no more than a ring; the driver's event suppression decides one notification however many publications the copies
/// need. Round trips, ring order and teardown: <see cref="AsyncRoundTrips{TDriver}"/>, <see cref="AsyncTeardownTests"/>.
/// </summary>
public unsafe class AsyncPackedEnqueueTests
{
    /// <summary>SECURITY.md 11/22: a guest that marks descriptors still being copied into available again (the next
    /// lap's flags) gets nothing more than a ring's worth of descriptors: no chain reserved twice, no used descriptor
    /// written twice. Chains of two descriptors: a lap holds half as many chains as slots.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_guest_re_offering_descriptors_that_are_still_being_copied_gets_no_more_than_a_ring(int descriptors)
    {
        const uint Size = 8;
        int chains = (int)Size / descriptors;
        using var lb = new PackedLoopback(Loopback.With(VirtioFeatures.NetMrgRxbuf), ringSize: Size, bufferSize: 2048);
        var ch = new ShuffledLateChannel(seed: 2) { Hold = true };
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, 0, ch));
        PackedRingDriver rx = lb.Rx[0];
        for (int i = 0; i < chains; i++) Assert.True(rx.PostRx(2048, descriptors));
        rx.Publish();
        Mbuf** p = stackalloc Mbuf*[16];
        for (int i = 0; i < 16; i++) p[i] = HandMbufs.Make(Payload.Make(1000, (ulong)i));
        try
        {
            Assert.Equal(chains, lb.Device.SubmitEnqueueBurst(0, p, (ushort)chains));
            Assert.Equal(0, lb.RxVring().LastAvailIdx);   // a whole lap reserved: the avail cursor is back at slot 0
            Assert.False(lb.RxVring().AvailWrapCounter);
            // The same descriptors made available again in the next lap (wrap counter 0), over the reserved ones.
            for (uint slot = 0; slot < Size; slot++)
            {
                VringPackedDesc d = rx.RawAt(slot);
                ushort shape = (ushort)(descriptors > 1 && slot % 2 == 0 ? VringPackedDesc.FlagNext : 0);
                rx.RawWriteDesc(slot, d.Addr, 1024, d.Id, (ushort)(PackedRingLayout.AvailPattern(false) | VringPackedDesc.FlagWrite | shape));
            }
            Assert.Equal(0, lb.Device.SubmitEnqueueBurst(0, p + chains, (ushort)chains));
            Assert.Empty(AsyncPackets.UsedSeen(rx));
            ch.Hold = false;
            List<nint> back = AsyncPackets.PollBack(lb.Device, 0, chains);
            Assert.Equal(chains, back.Count);
            // Each reserved chain used once, with the length the device wrote, the used cursor one lap on.
            List<(uint Slot, uint Id, uint Len)> used = AsyncPackets.UsedSeen(rx);
            Assert.Equal(Enumerable.Range(0, chains).Select(c => (uint)(c * descriptors)), used.Select(u => u.Slot));
            Assert.All(used, u => Assert.Equal(1000u + (uint)rx.HeaderSize, u.Len));
            Assert.Equal(0, lb.RxVring().LastUsedIdx);
            Assert.False(lb.RxVring().UsedWrapCounter);
            Assert.Equal(0, lb.Device.AsyncInflight(0));
        }
        finally
        {
            ch.Hold = false;
            for (int i = 0; i < 16; i++) HandMbufs.Free(p[i]);
        }
    }

    /// <summary>
    /// The copies complete over several polls, so the used descriptors are published in several steps; with EVENT_IDX
    /// the driver asked for exactly its next used descriptor and hears once; with notifications disabled, never.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Event_suppression_decides_the_notifications_of_publications_spread_over_several_polls(bool enabled)
    {
        using var lb = new PackedLoopback(Loopback.With(VirtioFeatures.NetMrgRxbuf, VirtioFeatures.RingEventIdx), ringSize: 64,
            bufferSize: 2048, interrupts: true);
        var ch = new ShuffledLateChannel(seed: 4) { MinPolls = 1 };
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, new AsyncFeatures(false, 0).Value, ch));
        PackedRingDriver rx = lb.Rx[0];
        for (int i = 0; i < 32; i++) Assert.True(rx.PostRx(2048));
        rx.Publish();
        if (enabled) rx.EnableInterrupts();
        else rx.DisableInterrupts();
        rx.DrainCalls();
        const int N = 32;
        Mbuf** p = stackalloc Mbuf*[N];
        for (int i = 0; i < N; i++) p[i] = HandMbufs.Make(Payload.Make(1200, (ulong)i));
        try
        {
            Assert.Equal(N, lb.Device.SubmitEnqueueBurst(0, p, N));
            int publications = 0;
            ushort lastUsed = lb.RxVring().LastUsedIdx;
            var deadline = DateTime.UtcNow + AsyncPackets.Wait;
            int back = 0;
            Mbuf** ret = stackalloc Mbuf*[N];
            while (back < N)
            {
                back += lb.Device.PollEnqueueCompleted(0, ret + back, (ushort)(N - back));
                if (lb.RxVring().LastUsedIdx != lastUsed)
                {
                    publications++;
                    lastUsed = lb.RxVring().LastUsedIdx;
                }
                Assert.True(DateTime.UtcNow < deadline);
            }
            Assert.True(publications > 1, "the copies completed in one step: nothing to suppress");
            Assert.Equal(enabled ? 1UL : 0UL, rx.DrainCalls());
            Assert.Equal(N, AsyncPackets.UsedSeen(rx).Count);
        }
        finally
        {
            for (int i = 0; i < N; i++) HandMbufs.Free(p[i]);
        }
    }
}
