using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>Split-ring enqueue (host → guest RX): the shared behaviour (<see cref="EnqueueBehaviour{TDriver}"/>) and mergeable bad chains.</summary>
public unsafe class EnqueueTests : EnqueueBehaviour<SplitRingDriver>
{
    private protected override Loopback<SplitRingDriver> Rig(ulong features, uint ringSize, uint bufferSize) =>
        new Loopback(features, ringSize: ringSize, bufferSize: bufferSize);

    [Fact]
    public void Mergeable_bad_chain_between_buffers_is_returned_after_the_packet_and_counted_once()
    {
        using var h = new Hostile(Loopback.With(VirtioFeatures.NetMrgRxbuf));
        Assert.True(h.Rx.PostRx(512));
        ushort bad = h.Rx.RawTakeDescriptor();
        h.Rx.RawWriteDesc(bad, 0x10, 512, VringDesc.FlagWrite, 0);   // outside memory
        h.Rx.RawPushAvail(bad);
        h.Rx.Publish();
        // The packet needs two buffers (12 + 800 > 512); one good one, then the bad one: rolled back, nothing counted.
        Assert.Equal(0, h.Enqueue(seq: 1, size: 800));
        Assert.Equal(0UL, h.RxRing.Stats.TotalDrops);
        Assert.Equal(0, h.Rx.UsedIdx);
        Assert.True(h.Rx.PostRx(512));
        h.Rx.Publish();
        Assert.Equal(1, h.Enqueue(seq: 1, size: 800));
        Assert.Equal(1UL, h.RxRing.Stats.Drops(DropReason.BufferOutsideMemory));
        var buf = new byte[4096];
        Assert.True(h.Rx.TryReceive(buf, out RxInfo info));
        Assert.Equal(2, info.Buffers);
        Assert.Equal(800, info.Length);
        Assert.True(Payload.Matches(buf.AsSpan(0, 800), 1));
        Assert.True(h.Rx.TryReceive(buf, out info));   // then the dropped chain, on its own
        Assert.Equal(0u, info.UsedLen);
        Assert.False(h.Rx.TryReceive(buf, out _));
        Assert.True(h.Lb.GuardsIntact());
    }

    [Fact]
    public void Mergeable_bad_chain_in_front_of_a_packet_is_dropped_at_once()
    {
        using var h = new Hostile(Loopback.With(VirtioFeatures.NetMrgRxbuf));
        ushort bad = h.Rx.RawTakeDescriptor();
        h.Rx.RawWriteDesc(bad, h.Buf(h.Rx, bad), 512, 0, 0);   // readable: wrong direction
        h.Rx.RawPushAvail(bad);
        h.Rx.Publish();
        Assert.Equal(0, h.Enqueue(seq: 1, size: 800));
        Assert.Equal(1UL, h.RxRing.Stats.Drops(DropReason.WrongDirection));
        Assert.Equal(1, h.Rx.UsedIdx);
        Assert.Equal(bad, (ushort)h.Rx.RawUsed(0).Id);
    }
}
