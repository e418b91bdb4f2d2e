using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Migration;
using Xunit.Abstractions;

namespace HotPath.Tests.Iommu;

/// <summary>
/// Live-migration dirty logging under VIRTIO_F_IOMMU_PLATFORM, over a real socket: HotPath's frontend in IOTLB mode
/// with IOVA = guest physical address - 2 GiB, so the IOVAs of the guest's memory (at 4 GiB) lie inside the dirty log
/// at pages no guest memory has: a backend that logged an IOVA, or the used ring's IOVA log address, as if it were a
/// guest physical address would set bits there. The IOTLB maps the memory in entries of 64 KiB + 256 bytes, so many
/// buffers straddle two entries and are translated (and logged) in two pieces. The log is compared with
/// <see cref="DirtyLogModel"/>, which knows the guest physical pages the device wrote.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class IotlbDirtyLogTests(ITestOutputHelper output)
{
    private const ulong IovaOffset = unchecked(0UL - 0x8000_0000UL);
    private const ulong Chunk = 0x1_0100;
    private const byte RW = VhostUserFrontend.PermReadWrite, WO = VhostUserFrontend.PermWrite;
    private static readonly NetDeviceOptions Iommu = new() { Iommu = true, BackendChannel = true, IovaOffset = IovaOffset };

    private static int Size(ulong seq) => 60 + (int)(seq * 7919 % 1459);

    private static SocketLoopback Loopback(string tag) =>
        new(tag, options: Iommu, flags: VhostDriverFlags.IommuSupport, afterStart: (fe, g) => MapInChunks(fe, g.Memory));

    private static void MapInChunks(VhostUserFrontend fe, FrontendMemory mem)
    {
        foreach (FrontendMemory.Region r in mem.Regions)
            for (ulong off = 0; off < r.Size; off += Chunk)
                fe.IotlbMap(mem, r.GuestPhysAddr + off, Math.Min(Chunk, r.Size - off), RW);
    }

    /// <summary>The log pages of the IOVAs the frontend gave the guest's memory.</summary>
    private static bool IsIovaPage(FrontendMemory mem, ulong page) =>
        mem.Regions.Any(r => page >= (r.GuestPhysAddr + IovaOffset) >> 12 && page <= (r.GuestPhysAddr + IovaOffset + r.Size - 1) >> 12);

    /// <summary>Takes the log's bits and checks they are exactly the model's pages (then forgets both).</summary>
    private static void SyncAndCompare(FrontendDirtyLog log, DirtyLogModel model, FrontendMemory mem, string when)
    {
        var dirty = new HashSet<ulong>();
        log.Collect(dirty);
        ulong[] iova = dirty.Where(p => IsIovaPage(mem, p)).Take(8).ToArray();
        Assert.True(iova.Length == 0, $"{when}: pages marked at IOVAs: {Describe(iova)}");
        ulong[] missed = model.Pages.Except(dirty).Take(8).ToArray();
        ulong[] extra = dirty.Except(model.Pages).Take(8).ToArray();
        Assert.True(missed.Length == 0, $"{when}: guest pages written but not marked: {Describe(missed)}");
        Assert.True(extra.Length == 0, $"{when}: pages marked but never written: {Describe(extra)}");
        model.Pages.Clear();
    }

    /// <summary>
    /// Switches logging on (every request acked) with a log covering the guest's memory; <paramref name="model"/>
    /// will know the guest pages the device writes.
    /// </summary>
    private static FrontendDirtyLog StartLogging(SocketLoopback lb, out DirtyLogModel model)
    {
        var log = new FrontendDirtyLog(DirtyLogTests.GuestEnd(lb.Guest.Memory));
        model = new DirtyLogModel((SplitRingDriver)lb.Guest.Rx, lb.Guest.Rings);
        lb.Frontend.EnableLogging(log, lb.Guest.Memory, lb.Guest.Rings);
        return log;
    }

    private static string Describe(IEnumerable<ulong> pages) => string.Join(", ", pages.Select(p => $"0x{p << 12:x}"));

    [Fact]
    public void Migration_under_the_iotlb_logs_exactly_the_guest_physical_pages_written_and_never_an_iova()
    {
        using SocketLoopback lb = Loopback("iotlb-log");
        using FrontendDirtyLog log = StartLogging(lb, out DirtyLogModel model);   // LOG_ALL with ACCESS_PLATFORM: accepted
        lb.Guest.OnRxUsed = model.RxUsed;
        Assert.True(lb.Device.Logging && lb.Device.IotlbActive);
        Assert.Equal(lb.Guest.Rings[0].DeviceAreaGpa, lb.Device.GetVring(0)!.LogGuestPhysAddr);   // sent as an IOVA
        model.Restart(lb.Guest.Memory);
        log.Clear();
        int pagesChecked = 0;
        for (int sync = 0; sync < 25; sync++)
        {
            for (int r = 0; r < 8; r++)
            {
                lb.Round(64, Size);
                model.UsedRings(lb.Guest.Memory);
            }
            pagesChecked += model.Pages.Count;
            SyncAndCompare(log, model, lb.Guest.Memory, $"sync {sync}");
        }
        output.WriteLine($"{lb.Guest.Received} packets, {pagesChecked} dirty guest pages matched the model; " +
                         $"{lb.Device.Iotlb.Count} IOTLB entries, rx log_pages_marked {lb.Device.GetVring(0)!.Stats[VringStats.LogPagesMarked]}");
        Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
        Assert.True(lb.Guest.Received >= 25 * 8 * 64 / 2, $"only {lb.Guest.Received} packets went through");
        Assert.Equal(0, lb.Device.Log!.OutOfRangeWrites);
        Assert.Equal(0UL, lb.Device.GetVring(0)!.Stats.TotalDrops + lb.Device.GetVring(1)!.Stats.TotalDrops);

        // Logging off again: nothing more is marked.
        lb.Frontend.DisableLogging(lb.Guest.Memory, lb.Guest.Rings);
        for (int r = 0; r < 4; r++) lb.Round(64, Size);
        Assert.Equal(0, log.CountDirty());
    }

    [Fact]
    public void Tx_marks_only_its_used_ring_and_rx_marks_the_buffers_it_wrote_and_its_used_ring()
    {
        using SocketLoopback lb = Loopback("iotlb-log-dir");
        using FrontendDirtyLog log = StartLogging(lb, out DirtyLogModel model);
        lb.Round(8, Size);   // the first burst of each ring after the feature change rewrites (and logs) used.flags
        lb.Guest.OnRxUsed = model.RxUsed;
        model.Restart(lb.Guest.Memory);
        log.Clear();

        lb.Guest.Send(24, Size);
        var held = new nint[32];
        int n = lb.Device.DequeueBurst(1, lb.Pool, held);
        Assert.Equal(24, n);
        model.UsedRings(lb.Guest.Memory);
        int txPages = model.Pages.Count;
        RingAreas tx = lb.Guest.Rings[1];
        Assert.All(model.Pages, p => Assert.InRange(p, tx.DeviceAreaGpa >> 12, (tx.DeviceAreaGpa + SplitRingLayout.UsedBytes(tx.Size) - 1) >> 12));
        SyncAndCompare(log, model, lb.Guest.Memory, "after TX");

        int k = lb.Device.EnqueueBurst(0, held.AsSpan(0, n));
        Assert.Equal(n, k);
        fixed (nint* p = held) MbufOps.FreeBulk((Mbuf**)p, (uint)k);
        Assert.Equal(24, lb.Guest.Collect());
        model.UsedRings(lb.Guest.Memory);
        int rxPages = model.Pages.Count;
        RingAreas rx = lb.Guest.Rings[0];
        ulong usedLast = rx.DeviceAreaGpa + SplitRingLayout.UsedBytes(rx.Size) - 1;
        Assert.Contains(model.Pages, p => p < rx.DeviceAreaGpa >> 12 || p > usedLast >> 12);   // buffer pages too
        SyncAndCompare(log, model, lb.Guest.Memory, "after RX");
        output.WriteLine($"TX of 24 packets marked {txPages} page(s) (its used ring); RX of them {rxPages} (buffers and used ring)");
        Assert.Equal(0, lb.Device.Log!.OutOfRangeWrites);
    }

    [Fact]
    public void A_log_address_the_iotlb_does_not_map_yet_is_asked_for_and_the_ring_waits_for_it()
    {
        using SocketLoopback lb = Loopback("iotlb-log-miss");
        using FrontendDirtyLog log = StartLogging(lb, out DirtyLogModel model);
        lb.Round(8, Size);
        Assert.Equal(8L, lb.Guest.Received);

        // The RX used ring's log address given as another IOVA (an alias past the log's end) that nothing maps yet.
        RingAreas rx = lb.Guest.Rings[0];
        ulong alias = 0x7_0000_0000 + (rx.DeviceAreaGpa & 0xFFF);
        lb.Frontend.SetVringAddr(FrontendPayloads.VringAddrIova(0, rx, flags: 1, logGuestAddr: alias, iovaOffset: IovaOffset));
        Assert.False(lb.Device.GetVring(0)!.IsTranslated, "a ring whose log address misses must wait");
        lb.Guest.Send(8, Size);
        var held = new nint[8];
        Assert.Equal(8, lb.Device.DequeueBurst(1, lb.Pool, held));
        Assert.Equal(0, lb.Device.EnqueueBurst(0, held));

        var misses = new List<IotlbMissRequest>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!lb.Device.GetVring(0)!.IsTranslated && clock.Elapsed < SocketLoopback.Wait)
            misses.AddRange(lb.Frontend.ServeIotlbMisses(TimeSpan.FromSeconds(1), m =>
                lb.Frontend.IotlbUpdate(alias, SplitRingLayout.UsedBytes(rx.Size), lb.Guest.Memory.UserAddr(rx.DeviceAreaGpa), RW)));
        output.WriteLine($"misses: {string.Join(", ", misses.Select(m => $"0x{m.Iova:x}/{m.Perm}"))}");
        // (The channel may still hold the ring misses of the device's start, which the mappings answered since.)
        Assert.Equal(new[] { new IotlbMissRequest(alias, WO) }, misses.Where(m => m.Iova >= alias).ToArray());
        Assert.True(lb.Device.GetVring(0)!.IsReady);
        Assert.Equal(rx.DeviceAreaGpa, lb.Device.GetVring(0)!.LogGuestPhysAddr);

        // Logged at the used ring's guest physical pages, not at the alias.
        lb.Guest.OnRxUsed = model.RxUsed;
        model.Restart(lb.Guest.Memory);
        log.Clear();
        Assert.Equal(8, lb.Device.EnqueueBurst(0, held));
        fixed (nint* p = held) MbufOps.FreeBulk((Mbuf**)p, 8);
        lb.Guest.Collect();
        model.UsedRings(lb.Guest.Memory);
        for (int r = 0; r < 8; r++)
        {
            lb.Round(32, Size);
            model.UsedRings(lb.Guest.Memory);
        }
        SyncAndCompare(log, model, lb.Guest.Memory, "after the update");
        Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
        Assert.Equal(0, lb.Device.Log!.OutOfRangeWrites);
    }

    [Fact]
    public void Packed_rings_under_the_iotlb_log_their_buffers_and_rings_by_guest_physical_address()
    {
        using SocketLoopback lb = new("iotlb-log-packed", options: Iommu, flags: VhostDriverFlags.IommuSupport, packed: true,
            afterStart: (fe, g) => MapInChunks(fe, g.Memory));
        using var log = new FrontendDirtyLog(DirtyLogTests.GuestEnd(lb.Guest.Memory));
        lb.Frontend.EnableLogging(log, lb.Guest.Memory, lb.Guest.Rings);
        Assert.True(lb.Device.Logging && lb.Device.IotlbActive && lb.Device.GetVring(0)!.IsPacked);
        lb.Round(8, Size);
        log.Clear();

        // What the device may write while logging: RX buffers, and each ring's descriptor ring and device event area.
        RingDriver rxDriver = lb.Guest.Rx;
        var rxPages = new HashSet<ulong>();
        for (uint id = 0; id < lb.Guest.Rings[0].Size; id++) AddPages(rxPages, rxDriver.Buffers.Gpa(id), 2048);
        var ringPages = new HashSet<ulong>();
        foreach (RingAreas r in lb.Guest.Rings)
        {
            AddPages(ringPages, r.DescGpa, PackedRingLayout.DescBytes(r.Size));
            AddPages(ringPages, r.DeviceAreaGpa, 4);
        }
        var all = new HashSet<ulong>();
        for (int sync = 0; sync < 10; sync++)
        {
            for (int r = 0; r < 8; r++) lb.Round(64, Size);
            var dirty = new HashSet<ulong>();
            log.Collect(dirty);
            ulong[] iova = dirty.Where(p => IsIovaPage(lb.Guest.Memory, p)).Take(8).ToArray();
            Assert.True(iova.Length == 0, $"sync {sync}: pages marked at IOVAs: {Describe(iova)}");
            ulong[] stray = dirty.Where(p => !rxPages.Contains(p) && !ringPages.Contains(p)).Take(8).ToArray();
            Assert.True(stray.Length == 0, $"sync {sync}: pages marked the device never writes: {Describe(stray)}");
            Assert.True(dirty.Overlaps(rxPages), $"sync {sync}: no RX buffer page marked");
            // Used descriptors are written back into both descriptor rings every round.
            foreach (RingAreas r in lb.Guest.Rings)
            {
                var descPages = new HashSet<ulong>();
                AddPages(descPages, r.DescGpa, PackedRingLayout.DescBytes(r.Size));
                Assert.True(dirty.Overlaps(descPages), $"sync {sync}: the descriptor ring at 0x{r.DescGpa:x} was not marked");
            }
            all.UnionWith(dirty);
        }
        output.WriteLine($"{lb.Guest.Received} packets; {all.Count} pages marked over 10 syncs " +
                         $"({all.Count(rxPages.Contains)} RX buffer pages, {all.Count(ringPages.Contains)} ring pages)");
        Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
        // 512 packets of up to 1518 B into 2 KiB buffers per sync: every RX buffer page was written at some point.
        Assert.True(rxPages.IsSubsetOf(all), $"RX buffer pages never marked: {Describe(rxPages.Except(all).Take(8))}");
        Assert.Equal(0, lb.Device.Log!.OutOfRangeWrites);
        Assert.Equal(0UL, lb.Device.GetVring(0)!.Stats.TotalDrops + lb.Device.GetVring(1)!.Stats.TotalDrops);
    }

    private static void AddPages(HashSet<ulong> pages, ulong gpa, ulong bytes)
    {
        for (ulong p = gpa >> 12; p <= (gpa + bytes - 1) >> 12; p++) pages.Add(p);
    }
}
