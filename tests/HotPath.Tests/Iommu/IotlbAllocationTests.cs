using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Frontend.Memory;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Migration;

namespace HotPath.Tests.Iommu;

/// <summary>
/// The IOTLB bursts allocate nothing, split and packed, with mergeable packets over several buffers and indirect
/// tables or without: with everything mapped, and while every burst meets an address the frontend has not mapped
/// (the miss is pending: asked once, then counted). Only the burst calls are measured, on this thread, after a warm-up.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class IotlbAllocationTests
{
    private const int Burst = 32;

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Iotlb_bursts_allocate_nothing_mapped_or_missing(bool packed, bool indirect)
    {
        using SocketLoopback lb = new(packed ? "iotlb-alloc-packed" : "iotlb-alloc",
            options: new NetDeviceOptions { Iommu = true, BackendChannel = true }, flags: VhostDriverFlags.IommuSupport,
            packed: packed, rxBuffer: 1024, indirect: indirect, afterStart: (fe, g) => fe.IotlbMapAll(g.Memory));
        lb.Device.StatsEnabled = true;
        var mbufs = new nint[Burst];
        long allocated = 0;
        int moved = 0;

        void Round()
        {
            lb.Guest.Send(Burst, seq => 60 + (int)(seq * 37 % 1400));   // up to two 1 KiB RX buffers a packet
            long before = GC.GetAllocatedBytesForCurrentThread();
            int n = lb.Device.DequeueBurst(1, lb.Pool, mbufs);
            int k = lb.Device.EnqueueBurst(0, mbufs.AsSpan(0, n));
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            moved += k;
            fixed (nint* p = mbufs) MbufOps.FreeBulk((Mbuf**)p, (uint)n);
            lb.Guest.Collect();
        }

        for (int i = 0; i < 200; i++) Round();   // warm up: JIT, tiering
        allocated = moved = 0;
        for (int i = 0; i < 2_000; i++) Round();
        Assert.Equal(2_000 * Burst, moved);
        Assert.Equal(0L, allocated);

        // Only the rings stay mapped: every burst meets an unmapped buffer (or table) and stops in front of it.
        FrontendMemory.Region region = lb.Guest.Memory.Regions[0];
        lb.Frontend.IotlbInvalidate(region.GuestPhysAddr, region.Size);
        foreach (ulong page in IotlbTrafficTests.RingPages(lb.Guest))
            lb.Frontend.IotlbMap(lb.Guest.Memory, page, 4096, VhostUserFrontend.PermReadWrite);
        Assert.True(lb.Device.GetVring(0)!.IsReady && lb.Device.GetVring(1)!.IsReady);
        lb.Guest.Send(Burst, _ => 100);
        nint* held = stackalloc nint[Burst];
        Assert.Equal(0, MbufOps.AllocBulk(lb.Pool.Header, (Mbuf**)held, Burst));
        void Missing()
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            int n = lb.Device.DequeueBurst(1, lb.Pool, mbufs);
            int k = lb.Device.EnqueueBurst(0, (Mbuf**)held, Burst);
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            moved += n + k;
        }
        for (int i = 0; i < 10; i++) Missing();   // the first asks (the control thread is woken), the rest only count
        allocated = moved = 0;
        ulong rxMisses = lb.Device.GetVring(0)!.Stats[VringStats.IotlbMisses], txMisses = lb.Device.GetVring(1)!.Stats[VringStats.IotlbMisses];
        for (int i = 0; i < 2_000; i++) Missing();
        MbufOps.FreeBulk((Mbuf**)held, Burst);
        Assert.Equal(0, moved);
        Assert.Equal(2_000UL, lb.Device.GetVring(0)!.Stats[VringStats.IotlbMisses] - rxMisses);
        Assert.Equal(2_000UL, lb.Device.GetVring(1)!.Stats[VringStats.IotlbMisses] - txMisses);
        Assert.Equal(0L, allocated);
        Assert.Equal(0UL, lb.Device.GetVring(0)!.Stats.TotalDrops + lb.Device.GetVring(1)!.Stats.TotalDrops);
    }
}
