using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Tests.Datapath;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Migration;

namespace HotPath.Tests.Iommu;

/// <summary>
/// Packed chains a guest shapes by hand, under the IOTLB: the prescan asks for an address only where the walk would
/// use it (a chain the walk drops anyway cannot stall the ring on a miss the IOMMU will never answer), and an indirect
/// table the IOTLB does not map yet is asked for once (read access) and taken whole after the update.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class IotlbPackedChainTests
{
    private const ushort Next = VringPackedDesc.FlagNext, Write = VringPackedDesc.FlagWrite, Indirect = VringPackedDesc.FlagIndirect;
    /// <summary>An IOVA no mapping holds.</summary>
    private const ulong Unmapped = 0x7000_0000_0000;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static SocketLoopback Loopback(string tag) =>
        new(tag, options: new NetDeviceOptions { Iommu = true, BackendChannel = true }, flags: VhostDriverFlags.IommuSupport,
            packed: true, afterStart: (fe, g) => fe.IotlbMapAll(g.Memory));

    private static ulong Drops(SocketLoopback lb, DropReason r) => lb.Device.GetVring(1)!.Stats.Drops(r);
    private static ulong Misses(SocketLoopback lb) => lb.Device.GetVring(1)!.Stats[VringStats.IotlbMisses];

    [Fact]
    public void Chains_the_walk_drops_ask_for_no_miss_whatever_addresses_they_name()
    {
        using SocketLoopback lb = Loopback("iotlb-packed-bad");
        var tx = (PackedRingDriver)lb.Guest.Tx;
        ushort a = tx.RawTakeBuffer(), b = tx.RawTakeBuffer();
        tx.RawPost(a, new RawDesc(Unmapped, 100, Write));                                       // TX buffer marked device-writable
        tx.RawPost(b, new RawDesc(Unmapped, 32, Indirect | Next), new RawDesc(Unmapped, 64));   // INDIRECT together with NEXT
        tx.Publish();
        Assert.Equal(1, lb.Guest.Send(1, _ => 100));
        var mbufs = new nint[8];
        Assert.Equal(1, lb.Device.DequeueBurst(1, lb.Pool, mbufs));
        try { Assert.True(Payload.Matches(new ReadOnlySpan<byte>(((Mbuf*)mbufs[0])->Data, 100), 0)); }
        finally { MbufOps.Free((Mbuf*)mbufs[0]); }
        Assert.Equal(1UL, Drops(lb, DropReason.WrongDirection));
        Assert.Equal(1UL, Drops(lb, DropReason.IndirectWithNext));
        Assert.Equal(0UL, Misses(lb));
        Assert.Equal(0, lb.Device.IotlbMisses.Pending);
        Assert.Equal(3, tx.ReapTx());   // the device and the driver agree on where each chain ended
    }

    [Fact]
    public void An_indirect_table_the_iotlb_does_not_map_yet_is_asked_for_once_and_taken_after_the_update()
    {
        using SocketLoopback lb = Loopback("iotlb-packed-table");
        var tx = (PackedRingDriver)lb.Guest.Tx;
        int hdr = tx.HeaderSize;
        ushort id = tx.RawTakeBuffer(), b = tx.RawTakeBuffer();
        tx.Buffers.Write(tx.Buffers.Gpa(id), new byte[hdr]);
        tx.Buffers.Write(tx.Buffers.Gpa(b), Payload.Make(90, 12));
        tx.RawWriteIndirect(id, 0, tx.Buffers.Gpa(id), (uint)hdr, 0);
        ulong table = tx.RawWriteIndirect(id, 1, tx.Buffers.Gpa(b), 90, 0);
        // The driver names the table by an IOVA of its own, which the IOMMU maps (read-only) only when asked.
        ulong alias = Unmapped + (table & 0xFFF);
        tx.RawPost(id, new RawDesc(alias, 32, Indirect));
        tx.Publish();
        var mbufs = new nint[8];
        for (int i = 0; i < 10; i++) Assert.Equal(0, lb.Device.DequeueBurst(1, lb.Pool, mbufs));
        Assert.Equal(10UL, Misses(lb));
        Assert.Equal(0UL, lb.Device.GetVring(1)!.Stats.TotalDrops);

        // The channel also holds the ring misses of the start (answered since by the mapping of all memory).
        var asked = new List<IotlbMissRequest>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!asked.Any(m => m.Iova >= Unmapped) && clock.Elapsed < Deadline)
            asked.AddRange(lb.Frontend.ServeIotlbMisses(TimeSpan.FromSeconds(1), m =>
            {
                if (m.Iova >= Unmapped)
                    lb.Frontend.IotlbUpdate(Unmapped, 8192, lb.Guest.Memory.UserAddr(table & ~0xFFFUL), VhostUserFrontend.PermRead);
            }));
        // Once for ten bursts, for the table's first byte, asking to read it.
        Assert.Equal(new[] { new IotlbMissRequest(alias, VhostUserFrontend.PermRead) }, asked.Where(m => m.Iova >= Unmapped));

        Assert.Equal(1, lb.Device.DequeueBurst(1, lb.Pool, mbufs));
        try
        {
            Assert.Equal(90, ((Mbuf*)mbufs[0])->DataLen);
            Assert.True(Payload.Matches(new ReadOnlySpan<byte>(((Mbuf*)mbufs[0])->Data, 90), 12));
        }
        finally { MbufOps.Free((Mbuf*)mbufs[0]); }
        Assert.Equal(0UL, lb.Device.GetVring(1)!.Stats.TotalDrops);
        Assert.Equal(1, tx.ReapTx());
    }
}
