using HotPath.Frontend.Memory;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Migration;

/// <summary>
/// Memory hotplug (CONFIGURE_MEM_SLOTS) while traffic flows: 63 regions are added one by one next to the region that
/// holds the rings and packet buffers (64 in all) and removed again, three times, over a real socket, while another
/// thread keeps numbered packets going guest TX → backend → guest RX. Traffic in the region that stays is never
/// dropped, corrupted, duplicated or lost; every added region is usable while it is there.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class MemoryHotplugTrafficTests(ITestOutputHelper output)
{
    [Fact]
    public void Sixty_four_regions_come_and_go_while_traffic_flows_without_a_drop()
    {
        using var lb = new SocketLoopback("hotplug-traffic");
        lb.Guest.ReceivedSeqs = new HashSet<ulong>();
        using FrontendMemory extra = FrontendMemory.Create(Enumerable.Repeat((ulong)(2 << 20), 63).ToArray(), baseGpa: 0x10_0000_0000);
        int baseRegions = lb.Device.Memory!.Count;
        Assert.Equal(1, baseRegions);

        int stop = 0;
        Exception? trafficError = null;
        long duringHotplug = 0;
        var traffic = new Thread(() =>
        {
            try
            {
                while (Volatile.Read(ref stop) == 0)
                    Interlocked.Add(ref duringHotplug, lb.Round(32, seq => 60 + (int)(seq % 1400)));
            }
            catch (Exception e) { trafficError = e; }
        });
        traffic.Start();
        try
        {
            for (int cycle = 0; cycle < 3; cycle++)
            {
                foreach (var r in extra.Regions)
                {
                    lb.Frontend.AddMemReg(r);
                    // The new region translates to the frontend's bytes at once.
                    r.Host[64] = (byte)(cycle + 1);
                    ulong len = 1;
                    byte* h = lb.Device.Memory!.GpaToHost(r.GuestPhysAddr + 64, ref len);
                    Assert.True(h != null && *h == cycle + 1, $"cycle {cycle}: region at 0x{r.GuestPhysAddr:x} not usable");
                }
                Assert.Equal(64, lb.Device.Memory!.Count);
                foreach (var r in extra.Regions) lb.Frontend.RemMemReg(r);
                Assert.Equal(baseRegions, lb.Device.Memory!.Count);
                Assert.True(trafficError == null, $"traffic failed in cycle {cycle}: {trafficError}");
            }
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            Assert.True(traffic.Join(TimeSpan.FromSeconds(30)), "the traffic thread hung");
        }
        Assert.Null(trafficError);
        long during = Interlocked.Read(ref duringHotplug);

        // Drain what is still in the rings; then every packet sent arrived exactly once.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (lb.Guest.Received < lb.Guest.Sent && clock.Elapsed < TimeSpan.FromSeconds(60)) lb.Round(0, _ => 60);
        output.WriteLine($"{lb.Guest.Sent} packets sent, {lb.Guest.Received} received ({during} while 3 x 63 regions came and went)");
        Assert.True(during > 0, "no packet moved while regions were added and removed");
        Assert.Equal(0L, lb.Dropped);
        Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
        Assert.Equal(lb.Guest.Sent, lb.Guest.ReceivedSeqs.Count);
        Assert.Equal(0UL, lb.Device.GetVring(0)!.Stats.TotalDrops);
        Assert.Equal(0UL, lb.Device.GetVring(1)!.Stats.TotalDrops);
    }
}
