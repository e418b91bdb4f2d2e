using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;
using HotPath.Tests.Migration;

namespace HotPath.Tests.Async;

/// <summary>
/// Control-plane changes while the channel still reads TX packets out of guest memory (issue 19, async dequeue):
/// each waits for the copies (the settle polls the channel), reads nothing from unmapped memory, uses every taken
/// chain, and loses no mbuf.
/// </summary>
public unsafe class AsyncDequeueTeardownTests
{
    private const int Packets = 24;

    [Theory]
    [InlineData(AsyncTeardownTests.Change.Unregister)]
    [InlineData(AsyncTeardownTests.Change.GetVringBase)]
    [InlineData(AsyncTeardownTests.Change.MemTable)]
    [InlineData(AsyncTeardownTests.Change.Reset)]
    public void A_change_with_dequeue_copies_in_flight_waits_for_them_and_loses_nothing(AsyncTeardownTests.Change change)
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.RingEventIdx, VirtioFeatures.RingIndirectDesc), ringSize: 256, bufferSize: 4096);
        using Mempool pool = TestPools.Create(256);
        var ch = new ShuffledLateChannel(seed: 5) { Hold = true };
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(1, 0, ch));
        SplitRingDriver tx = lb.Tx[0];
        for (int i = 0; i < Packets; i++) AsyncDequeueTests.Post(tx, 1000 + 300 * i, (ulong)i);
        tx.Publish();
        nint* buf = stackalloc nint[Packets];
        Assert.Equal(0, lb.Device.AsyncTryDequeueBurst(1, pool, new Span<nint>(buf, Packets), out int inflight));
        Assert.Equal(Packets, inflight);
        Assert.Equal(0, tx.UsedIdx);
        uint inUse = pool.InUse;
        Assert.True(inUse >= Packets);

        uint freed = 0, vringBase = 0;
        void Apply()
        {
            switch (change)
            {
                case AsyncTeardownTests.Change.Unregister:
                    Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(1, out freed));
                    break;
                case AsyncTeardownTests.Change.GetVringBase:
                    vringBase = lb.Attach.StopRing(1);
                    break;
                case AsyncTeardownTests.Change.MemTable:
                    lb.Attach.SetMemTable();
                    break;
                case AsyncTeardownTests.Change.Reset:
                    lb.Device.ResetRings();
                    break;
            }
        }
        // The change blocks in the settle, polling a channel that completes nothing until it is let go; meanwhile
        // nothing is freed (the copies may still write the mbufs).
        AsyncPackets.WhileHeld(ch, Apply, () => Assert.Equal(inUse, pool.InUse));

        Assert.Equal(0L, ch.ReadsAfterUnmap);
        Assert.Equal(0L, ch.WritesAfterUnmap);
        Assert.Equal(0, ch.Pending);
        // Every taken chain came back used, in ring order.
        Assert.Equal(Packets, tx.UsedIdx);
        if (change == AsyncTeardownTests.Change.GetVringBase) Assert.Equal((uint)Packets, vringBase);
        if (change == AsyncTeardownTests.Change.Unregister) Assert.Equal((uint)Packets, freed);
        else
        {
            // Still registered: the packets are complete and the application gets them, in order, byte-exact.
            AsyncDequeueTests.DequeueAll(lb.Device, pool, Packets, (i, p) =>
                Assert.True(Payload.Matches(HandMbufs.Bytes((Mbuf*)p), (ulong)i), $"packet {i} differs"));
        }
        Assert.Equal(0u, pool.InUse);
    }

    [Fact]
    public void A_disconnect_with_dequeue_copies_in_flight_waits_for_them_and_frees_the_mbufs()
    {
        var lb = new SocketLoopback("async-deq-disconnect", ringSize: 64);
        var ch = new ShuffledLateChannel(seed: 3) { Hold = true };
        try
        {
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(1, new AsyncFeatures(false, 0).Value, ch));
            Assert.Equal(Packets, lb.Guest.Send(Packets, s => 200 + (int)s * 50));
            nint* burst = stackalloc nint[Packets];
            int inflight = 0;
            AsyncPackets.WaitFor(() =>
            {
                Assert.Equal(0, lb.Device.AsyncTryDequeueBurst(1, lb.Pool, new Span<nint>(burst, Packets), out int n));
                inflight = Math.Max(inflight, n);
                return inflight == Packets;
            }, "the guest's packets to be taken");
            AsyncPackets.DisconnectWhileHeld(lb, ch, Packets);
        }
        finally
        {
            ch.Hold = false;
            lb.Dispose();
        }
    }
}
