using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>Packed-ring enqueue (host → guest RX): the shared behaviour (<see cref="EnqueueBehaviour{TDriver}"/>) and mergeable bad chains.</summary>
public unsafe class PackedEnqueueTests : EnqueueBehaviour<PackedRingDriver>
{
    private protected override Loopback<PackedRingDriver> Rig(ulong features, uint ringSize, uint bufferSize) =>
        new PackedLoopback(features, ringSize: ringSize, bufferSize: bufferSize);

    [Fact]
    public void Mergeable_bad_chain_between_buffers_is_returned_after_the_packet_and_counted_once()
    {
        using var h = new PackedHostile(Loopback.With(VirtioFeatures.NetMrgRxbuf));
        Assert.True(h.Rx.PostRx(512));
        ushort bad = h.Rx.RawTakeBuffer();
        h.Rx.RawPost(bad, new RawDesc(0x10, 512, VringPackedDesc.FlagWrite));   // outside memory
        h.Rx.Publish();
        // The packet needs two buffers (12 + 800 > 512); one good one, then the bad one: rolled back, nothing counted.
        Assert.Equal(0, h.Enqueue(seq: 1, size: 800));
        Assert.Equal(0UL, h.RxRing.Stats.TotalDrops);
        Assert.Empty(h.Rx.PeekUsed());
        Assert.True(h.Rx.PostRx(512));
        h.Rx.Publish();
        Assert.Equal(1, h.Enqueue(seq: 1, size: 800));
        Assert.Equal(1UL, h.RxRing.Stats.Drops(DropReason.BufferOutsideMemory));
        // Used descriptors in ring order: the packet's two buffers, then the dropped chain.
        Assert.Equal(new uint[] { 512, 300, 0 }, h.Rx.PeekUsed().Select(u => u.Desc.Len));
        var buf = new byte[4096];
        Assert.True(h.Rx.TryReceive(buf, out RxInfo info));
        Assert.Equal(2, info.Buffers);
        Assert.Equal(800, info.Length);
        Assert.True(Payload.Matches(buf.AsSpan(0, 800), 1));
        Assert.True(h.Rx.TryReceive(buf, out info));   // then the dropped chain, on its own
        Assert.Equal(0u, info.UsedLen);
        Assert.False(h.Rx.TryReceive(buf, out _));
        Assert.True(h.Lb.GuardsIntact());
        Assert.Equal(16, h.Rx.FreeDescriptors);
    }

    [Fact]
    public void Mergeable_bad_chain_in_front_of_a_packet_is_dropped_at_once()
    {
        using var h = new PackedHostile(Loopback.With(VirtioFeatures.NetMrgRxbuf));
        ushort bad = h.Rx.RawTakeBuffer();
        h.Rx.RawPost(bad, new RawDesc(h.Buf(h.Rx, bad), 512));   // readable: wrong direction
        h.Rx.Publish();
        Assert.Equal(0, h.Enqueue(seq: 1, size: 800));
        Assert.Equal(1UL, h.RxRing.Stats.Drops(DropReason.WrongDirection));
        Assert.Equal(bad, Assert.Single(h.Rx.PeekUsed()).Desc.Id);
    }

    [Fact]
    public void Mergeable_packet_over_chains_of_several_descriptors_and_indirect_tables()
    {
        using var lb = new PackedLoopback(Loopback.With(VirtioFeatures.NetMrgRxbuf, VirtioFeatures.RingIndirectDesc), ringSize: 16);
        PackedRingDriver rx = lb.Rx[0];
        Assert.True(rx.PostRx(600, descriptors: 3));
        Assert.True(rx.PostRx(600, descriptors: 2, indirect: true));
        Assert.True(rx.PostRx(600, descriptors: 1));
        rx.Publish();
        byte[] pkt = Payload.Make(1700, 4);
        Mbuf* m = HandMbufs.Make(pkt, segData: 700);
        try { Assert.Equal(1, lb.Device.EnqueueBurst(0, &m, 1)); }
        finally { HandMbufs.Free(m); }
        var buf = new byte[4096];
        Assert.True(rx.TryReceive(buf, out RxInfo info));
        Assert.Equal(3, info.Buffers);
        Assert.Equal(3, info.Header.NumBuffers);
        Assert.True(buf.AsSpan(0, 1700).SequenceEqual(pkt));
        Assert.Equal(16, rx.FreeDescriptors);
        Assert.Equal(0UL, lb.RxVring().Stats.TotalDrops);
        Assert.True(lb.GuardsIntact());
    }
}
