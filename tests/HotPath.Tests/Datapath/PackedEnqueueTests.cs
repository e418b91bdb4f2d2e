using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>Packed-ring enqueue (host → guest RX): the shared behaviour (<see cref="EnqueueBehaviour{TDriver}"/>) and mergeable packets over multi-descriptor and indirect chains.</summary>
public unsafe class PackedEnqueueTests : EnqueueBehaviour<PackedRingDriver>
{
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
