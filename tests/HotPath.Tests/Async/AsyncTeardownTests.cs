using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;
using HotPath.Tests.Migration;

namespace HotPath.Tests.Async;

/// <summary>
/// Control-plane changes while the channel still holds copies (issue 19): each waits for the copies (the channel is
/// polled by the settle), writes nothing into unmapped memory, publishes every reserved chain, and loses no mbuf.
/// </summary>
public unsafe class AsyncTeardownTests
{
    public enum Change { Unregister, GetVringBase, MemTable, Reset }

    private const int Packets = 24;

    [Theory]
    [InlineData(Change.Unregister, false)]
    [InlineData(Change.GetVringBase, false)]
    [InlineData(Change.MemTable, false)]
    [InlineData(Change.Reset, false)]
    [InlineData(Change.Unregister, true)]
    [InlineData(Change.GetVringBase, true)]
    [InlineData(Change.MemTable, true)]
    [InlineData(Change.Reset, true)]
    public void A_change_with_copies_in_flight_waits_for_them_and_loses_nothing(Change change, bool packed)
    {
        if (packed) ChangeInFlight<PackedRingDriver>(change);
        else ChangeInFlight<SplitRingDriver>(change);
    }

    private static void ChangeInFlight<TDriver>(Change change) where TDriver : class, IRingDriver
    {
        using Loopback<TDriver> lb = Loopbacks.Create<TDriver>(Loopback.With(VirtioFeatures.NetMrgRxbuf), ringSize: 64, bufferSize: 2048);
        using Mempool pool = TestPools.Create(256);
        var ch = new ShuffledLateChannel(seed: 5) { Hold = true };
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, 0, ch));
        TDriver rx = lb.Rx[0];
        for (int i = 0; i < Packets; i++) Assert.True(rx.PostRx(2048));
        rx.Publish();
        Mbuf** p = stackalloc Mbuf*[Packets];
        for (int i = 0; i < Packets; i++) p[i] = AsyncPackets.FromPool(pool, Payload.Make(1000 + 20 * i, (ulong)i));
        Assert.Equal(Packets, lb.Device.SubmitEnqueueBurst(0, p, Packets));
        Assert.Empty(AsyncPackets.UsedSeen(rx));

        uint freed = 0, vringBase = 0;
        void Apply()
        {
            switch (change)
            {
                case Change.Unregister:
                    Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(0, out freed));
                    break;
                case Change.GetVringBase:
                    vringBase = lb.Attach.StopRing(0);
                    break;
                case Change.MemTable:
                    lb.Attach.SetMemTable();
                    break;
                case Change.Reset:
                    lb.Device.ResetRings();
                    break;
            }
        }
        // The change blocks in the settle, polling a channel that completes nothing until it is let go.
        AsyncPackets.WhileHeld(ch, Apply);

        Assert.Equal(0L, ch.WritesAfterUnmap);
        Assert.Equal(0, ch.Pending);
        // Every reserved chain came back used, in ring order, with its bytes.
        Assert.Equal(Packets, AsyncPackets.UsedSeen(rx).Count);
        var buf = new byte[2048];
        for (int i = 0; i < Packets; i++)
        {
            Assert.True(rx.TryReceive(buf, out RxInfo info));
            Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), (ulong)i), $"packet {i} differs");
        }
        // A packed ring's base is the avail position with its wrap counter (still in the first lap: 1).
        if (change == Change.GetVringBase) Assert.Equal(rx is PackedRingDriver ? Packets | 0x8000u : Packets, vringBase);
        if (change == Change.Unregister) Assert.Equal((uint)Packets, freed);
        else
        {
            // Still registered: the application polls its mbufs back and frees them.
            List<nint> back = AsyncPackets.PollBack(lb.Device, 0, Packets);
            foreach (nint m in back) MbufOps.Free((Mbuf*)m);
        }
        Assert.Equal(0u, pool.InUse);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_disconnect_with_copies_in_flight_waits_for_them_and_frees_the_unpolled_mbufs(bool packed)
    {
        var lb = new SocketLoopback(packed ? "async-disconnect-packed" : "async-disconnect", ringSize: 64, packed: packed);
        var ch = new ShuffledLateChannel(seed: 3) { Hold = true };
        try
        {
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, new AsyncFeatures(false, 0).Value, ch));
            Assert.Equal(Packets, lb.Guest.Send(Packets, s => 200 + (int)s * 50));
            nint* burst = stackalloc nint[Packets];
            int got = 0;
            AsyncPackets.WaitFor(() =>
            {
                got += lb.Device.DequeueBurst(1, lb.Pool, new Span<nint>(burst + got, Packets - got));
                return got == Packets;
            }, "the guest's packets");
            Assert.Equal(Packets, lb.Device.SubmitEnqueueBurst(0, new ReadOnlySpan<nint>(burst, Packets)));
            AsyncPackets.DisconnectWhileHeld(lb, ch, Packets);
        }
        finally
        {
            ch.Hold = false;
            lb.Dispose();
        }
    }
}
