using System.Diagnostics;
using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Engine.Iommu;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Tests.Datapath;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Migration;
using Xunit.Abstractions;

namespace HotPath.Tests.Iommu;

/// <summary>
/// VIRTIO_F_IOMMU_PLATFORM over a real socket: HotPath's frontend in IOTLB mode plays the guest's IOMMU (IOVA = guest
/// physical address, UPDATE / INVALIDATE on the main socket, misses answered from the backend-request channel) and
/// HotPath's backend (registered with IOMMU_SUPPORT) translates rings and buffers through its IOTLB. The traffic cases
/// run on split and on packed rings.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class IotlbTrafficTests(ITestOutputHelper output)
{
    private static readonly NetDeviceOptions Iommu = new() { Iommu = true, BackendChannel = true };
    private const VhostDriverFlags Flags = VhostDriverFlags.IommuSupport;
    private const byte RO = VhostUserFrontend.PermRead, WO = VhostUserFrontend.PermWrite, RW = VhostUserFrontend.PermReadWrite;
    private const ulong Page = 4096;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static SocketLoopback MappedLoopback(string tag, bool packed) =>
        new(Tag(tag, packed), options: Iommu, flags: Flags, afterStart: (fe, g) => fe.IotlbMapAll(g.Memory), packed: packed);

    private static string Tag(string tag, bool packed) => packed ? tag + "-packed" : tag;

    private static ulong Stat(VhostDevice d, int vring, int counter) => d.GetVring(vring)!.Stats[counter];
    private static ulong Drops(VhostDevice d, int vring, DropReason r) => d.GetVring(vring)!.Stats.Drops(r);

    /// <summary>The pages of every ring area (desc, driver area, device area) of the loopback's two rings.</summary>
    internal static HashSet<ulong> RingPages(GuestTraffic g)
    {
        var pages = new HashSet<ulong>();
        foreach (IRingLayout r in g.Rings)
        {
            AddPages(pages, r.DescGpa, DescBytes(r));
            AddPages(pages, r.DriverAreaGpa, r.Packed ? PackedRingLayout.EventBytes : SplitRingLayout.AvailBytes(r.Size));
            AddPages(pages, r.DeviceAreaGpa, r.Packed ? PackedRingLayout.EventBytes : SplitRingLayout.UsedBytes(r.Size));
        }
        return pages;
    }

    private static ulong DescBytes(IRingLayout r) => r.Packed ? PackedRingLayout.DescBytes(r.Size) : SplitRingLayout.DescBytes(r.Size);

    /// <summary>
    /// The ring pages the device writes (split: the used ring; packed: the descriptor ring, where used entries go, and
    /// the device area), mapped read-write; the ones it only reads (split desc and avail, the packed driver area)
    /// mapped read-only unless they share a page with the others.
    /// </summary>
    private static void MapRings(VhostUserFrontend fe, GuestTraffic g)
    {
        var read = new HashSet<ulong>();
        var written = new HashSet<ulong>();
        foreach (IRingLayout r in g.Rings)
        {
            AddPages(r.Packed ? written : read, r.DescGpa, DescBytes(r));
            AddPages(read, r.DriverAreaGpa, r.Packed ? PackedRingLayout.EventBytes : SplitRingLayout.AvailBytes(r.Size));
            AddPages(written, r.DeviceAreaGpa, r.Packed ? PackedRingLayout.EventBytes : SplitRingLayout.UsedBytes(r.Size));
        }
        read.ExceptWith(written);
        MapPages(fe, g.Memory, read, RO);
        MapPages(fe, g.Memory, written, RW);
    }

    private static void AddPages(HashSet<ulong> pages, ulong gpa, ulong bytes)
    {
        for (ulong p = gpa & ~(Page - 1); p < gpa + bytes; p += Page) pages.Add(p);
    }

    private static void MapPages(VhostUserFrontend fe, FrontendMemory mem, IEnumerable<ulong> pages, byte perm)
    {
        foreach (ulong p in pages) fe.IotlbMap(mem, p, Page, perm);
    }

    [Fact]
    public void The_iommu_flag_offers_iommu_platform_and_without_it_nothing_changes()
    {
        string a = FrontendRigPath("iommu-flag"), b = FrontendRigPath("iommu-noflag");
        VhostDriver with = VhostDriver.Register(a, VhostDriverFlags.IommuSupport);
        VhostDriver without = VhostDriver.Register(b, VhostDriverFlags.None);
        try
        {
            Assert.True(VirtioFeatures.Has(with.Features, VirtioFeatures.AccessPlatform));
            Assert.True(VirtioFeatures.Has(with.Features, VirtioFeatures.RingPacked));
            Assert.False(VirtioFeatures.Has(without.Features, VirtioFeatures.AccessPlatform));
            Assert.Equal(without.Features, with.Features & ~(1UL << VirtioFeatures.AccessPlatform));
        }
        finally
        {
            with.Unregister();
            without.Unregister();
        }
    }

    private static string FrontendRigPath(string tag) => DpdkBackend.NewSocketPath(tag);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Traffic_goes_through_the_iotlb_both_ways(bool packed)
    {
        using SocketLoopback lb = MappedLoopback("iotlb-traffic", packed);
        Assert.True(lb.Device.IotlbActive);
        Assert.Equal(packed, lb.Device.GetVring(0)!.IsPacked);
        Assert.True(VirtioFeatures.Has(lb.Frontend.AckedFeatures, VirtioFeatures.AccessPlatform));
        lb.Guest.ReceivedSeqs = new HashSet<ulong>();
        for (int i = 0; i < 50; i++) lb.Round(32, seq => 60 + (int)(seq * 37 % 1400));
        Drain(lb);
        output.WriteLine($"{lb.Guest.Sent} sent, {lb.Guest.Received} received; iotlb hits rx {Stat(lb.Device, 0, VringStats.IotlbHits)} tx {Stat(lb.Device, 1, VringStats.IotlbHits)}");
        Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
        Assert.Equal(0UL, lb.Device.GetVring(0)!.Stats.TotalDrops + lb.Device.GetVring(1)!.Stats.TotalDrops);
        Assert.True(Stat(lb.Device, 0, VringStats.IotlbHits) >= (ulong)lb.Guest.Sent);
        Assert.True(Stat(lb.Device, 1, VringStats.IotlbHits) >= (ulong)lb.Guest.Sent);
        Assert.Equal(0UL, Stat(lb.Device, 1, VringStats.IotlbMisses));
    }

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(false, false, true)]
    [InlineData(false, true, false)]
    [InlineData(false, true, true)]
    [InlineData(true, false, false)]
    [InlineData(true, false, true)]
    [InlineData(true, true, false)]
    [InlineData(true, true, true)]
    public void Indirect_tables_and_mergeable_buffers_go_through_the_iotlb(bool packed, bool indirect, bool mergeable)
    {
        // Mergeable: RX buffers of 1 KiB, so the larger packets take two. Indirect: TX packets are a header and two
        // data descriptors behind a table, RX buffers two descriptors behind one, every table mapped read-only.
        ulong features = mergeable ? GuestTraffic.Features : VirtioFeatures.Bit(VirtioFeatures.Version1);
        uint rxBuffer = mergeable ? 1024u : 2048u;
        using SocketLoopback lb = new(Tag($"iotlb-shape-{(indirect ? "i" : "d")}{(mergeable ? "m" : "s")}", packed),
            options: Iommu with { WantedFeatures = features }, flags: Flags, packed: packed, features: features,
            rxBuffer: rxBuffer, indirect: indirect, afterStart: (fe, g) =>
            {
                fe.IotlbMapAll(g.Memory);
                // The tables are only read: read-only, RX ones too (the device writes RX buffers, never their tables).
                foreach (RingDriver d in new[] { g.Rx, g.Tx })
                    if (indirect) fe.IotlbMap(g.Memory, d.IndirectArea.Gpa, d.IndirectArea.Bytes, RO);
            });
        Assert.Equal(mergeable, VirtioFeatures.Has(lb.Device.Features, VirtioFeatures.NetMrgRxbuf));
        Assert.Equal(packed, lb.Device.GetVring(0)!.IsPacked);
        lb.Guest.ReceivedSeqs = new HashSet<ulong>();
        int largest = 0;
        for (int i = 0; i < 30; i++)
            lb.Round(32, seq =>
            {
                int len = 60 + (int)(seq * 37 % 1400);
                largest = Math.Max(largest, len);
                return len;
            });
        Drain(lb);
        output.WriteLine($"{lb.Guest.Sent} sent, {lb.Guest.Received} received; largest {largest} B into {rxBuffer} B buffers; " +
                         $"iotlb hits rx {Stat(lb.Device, 0, VringStats.IotlbHits)} tx {Stat(lb.Device, 1, VringStats.IotlbHits)}");
        if (mergeable) Assert.True(largest + lb.Guest.Rx.HeaderSize > rxBuffer, "some packets span two buffers");
        Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
        Assert.Equal(0UL, lb.Device.GetVring(0)!.Stats.TotalDrops + lb.Device.GetVring(1)!.Stats.TotalDrops);
        // Per packet at least its buffer, and with indirect tables the table too.
        ulong perPacket = indirect ? 2UL : 1UL;
        Assert.True(Stat(lb.Device, 0, VringStats.IotlbHits) >= perPacket * (ulong)lb.Guest.Sent);
        Assert.True(Stat(lb.Device, 1, VringStats.IotlbHits) >= perPacket * (ulong)lb.Guest.Sent);
        Assert.Equal(0UL, Stat(lb.Device, 0, VringStats.IotlbMisses) + Stat(lb.Device, 1, VringStats.IotlbMisses));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_send_rarp_announcement_goes_out_in_front_of_the_next_iotlb_dequeue_burst(bool packed)
    {
        using SocketLoopback lb = MappedLoopback("iotlb-rarp", packed);
        byte[] mac = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
        lb.Frontend.SendRarp(mac);
        var clock = Stopwatch.StartNew();
        while (!lb.Device.RarpPending && clock.Elapsed < Deadline) Thread.Yield();
        Assert.True(lb.Device.RarpPending);
        Assert.Equal(1, lb.Guest.Send(1, _ => 100));
        var mbufs = new nint[8];
        Assert.Equal(2, lb.Device.DequeueBurst(1, lb.Pool, mbufs));
        try
        {
            var rarp = new ReadOnlySpan<byte>(((Mbuf*)mbufs[0])->Data, ((Mbuf*)mbufs[0])->DataLen);
            Assert.Equal(64, rarp.Length);
            Assert.True(rarp[..6].IndexOfAnyExcept((byte)0xFF) < 0);   // broadcast
            Assert.True(rarp.Slice(6, 6).SequenceEqual(mac));
            Assert.Equal(0x80, rarp[12]);
            Assert.Equal(0x35, rarp[13]);
            Assert.True(rarp.Slice(22, 6).SequenceEqual(mac));      // sender hardware address
            Assert.Equal(100, ((Mbuf*)mbufs[1])->DataLen);
            Assert.True(Payload.Matches(new ReadOnlySpan<byte>(((Mbuf*)mbufs[1])->Data, 100), 0));
        }
        finally
        {
            MbufOps.Free((Mbuf*)mbufs[0]);
            MbufOps.Free((Mbuf*)mbufs[1]);
        }
        Assert.False(lb.Device.RarpPending);
        lb.Guest.Collect();
        Assert.Equal(1, lb.Guest.Send(1, _ => 100));
        Assert.Equal(1, lb.Device.DequeueBurst(1, lb.Pool, mbufs));   // announced once
        MbufOps.Free((Mbuf*)mbufs[0]);
    }

    private static void Drain(SocketLoopback lb)
    {
        var clock = Stopwatch.StartNew();
        while (lb.Guest.Received < lb.Guest.Sent && clock.Elapsed < Deadline) lb.Round(0, _ => 60);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Rings_whose_addresses_miss_wait_for_the_update_then_buffers_miss_once_per_address(bool packed, bool spanning)
    {
        // Spanning: packets of three mergeable 512-byte RX buffers (two to a page: each buffer id owns 2 KiB), so some
        // packets start in a mapped page and run into one that is not: the burst stops in front of such a packet and
        // takes it whole once the update came (nothing dropped).
        uint rxBuffer = spanning ? 512u : 2048u;
        int size = spanning ? 1400 : 100;
        var asked = new List<IotlbMissRequest>();
        HashSet<ulong>? ringPages = null;
        // The device cannot be ready before its rings are mapped: answer the ring misses page by page until it is.
        using SocketLoopback lb = new(Tag(spanning ? "iotlb-miss-span" : "iotlb-miss", packed), options: Iommu, flags: Flags,
            packed: packed, rxBuffer: rxBuffer, afterStart: (fe, g) =>
        {
            ringPages = RingPages(g);
            var mapped = new HashSet<ulong>();
            var clock = Stopwatch.StartNew();
            while (!ringPages.IsSubsetOf(mapped) && clock.Elapsed < Deadline)
                asked.AddRange(fe.ServeIotlbMisses(TimeSpan.FromSeconds(1), m =>
                {
                    ulong p = m.Iova & ~(Page - 1);
                    fe.IotlbMap(g.Memory, p, Page, RW);
                    mapped.Add(p);
                }));
        });
        // new_device came (SocketDevice waited for it): every ring page was asked for, once, and nothing else.
        output.WriteLine($"ring misses: {string.Join(", ", asked.Select(m => $"0x{m.Iova:x}/{m.Perm}"))}");
        Assert.Equal(ringPages!.OrderBy(p => p), asked.Select(m => m.Iova & ~(Page - 1)).OrderBy(p => p));
        Assert.True(lb.Device.GetVring(0)!.IsReady && lb.Device.GetVring(1)!.IsReady);

        // Buffers are not mapped yet: bursts move nothing, drop nothing, and ask once per page however often they run.
        lb.Guest.Send(16, _ => size);
        for (int i = 0; i < 20; i++) lb.Forward();
        Assert.Equal(0L, lb.Guest.Collect());
        Assert.True(Stat(lb.Device, 1, VringStats.IotlbMisses) >= 20, "every burst counts its miss");
        // The application keeps what it dequeued until RX takes it (the loopback's forwarder would give up on it).
        var bufferMisses = new List<IotlbMissRequest>();
        var held = new List<nint>();
        var burst = new nint[32];
        var clock = Stopwatch.StartNew();
        while (lb.Guest.Received < lb.Guest.Sent && clock.Elapsed < Deadline)
        {
            bufferMisses.AddRange(lb.Frontend.ServeIotlbMisses(TimeSpan.FromMilliseconds(100),
                m => lb.Frontend.IotlbMap(lb.Guest.Memory, m.Iova & ~(Page - 1), Page, RW)));
            int n = lb.Device.DequeueBurst(1, lb.Pool, burst);
            held.AddRange(burst.Take(n));
            int k = lb.Device.EnqueueBurst(0, held.ToArray());
            for (int i = 0; i < k; i++) MbufOps.Free((Mbuf*)held[i]);
            held.RemoveRange(0, k);
            lb.Guest.Collect();
        }
        output.WriteLine($"buffer misses: {bufferMisses.Count} for {lb.Guest.Sent} packets");
        Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
        Assert.NotEmpty(bufferMisses);
        Assert.Equal(bufferMisses.Count, bufferMisses.Select(m => (m.Iova & ~(Page - 1), m.Perm)).Distinct().Count());
        Assert.Contains(bufferMisses, m => m.Perm == RO);   // TX buffers are read
        Assert.Contains(bufferMisses, m => m.Perm == WO);   // RX buffers are written
        Assert.Equal(0UL, lb.Device.GetVring(0)!.Stats.TotalDrops + lb.Device.GetVring(1)!.Stats.TotalDrops);
    }

    /// <summary>
    /// QEMU forwards no invalidation while the device is stopped (it drops its IOMMU notifier at vhost stop): a guest
    /// that frees its rings then (a driver unbind) maps the same IOVAs to other pages before the next start. Found
    /// with a real guest: after an unbind/bind the TX ring was read through the old mapping (now the RX ring's page)
    /// and every chain was dropped as WrongDirection.
    /// </summary>
    [Fact]
    public void A_ring_stop_empties_the_iotlb_so_the_next_start_asks_for_its_ring_addresses_again()
    {
        using SocketLoopback lb = MappedLoopback("iotlb-stop", packed: false);
        for (int i = 0; i < 5; i++) lb.Round(16, _ => 60);
        Drain(lb);
        Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
        Assert.NotEqual(0, lb.Device.Iotlb.Count);
        // The ring misses of the start (sent before the loopback mapped everything) are read off the channel first.
        lb.Frontend.ServeIotlbMisses(TimeSpan.FromMilliseconds(100), _ => { });

        lb.Frontend.GetVringBase(0);
        Assert.Equal(0, lb.Device.Iotlb.Count);
        // Nothing is asked while the device stops (QEMU: "Unexpected IOTLB message when virtio device is stopped").
        Assert.Empty(lb.Frontend.ServeIotlbMisses(TimeSpan.FromMilliseconds(300), _ => { }));
        lb.Frontend.GetVringBase(1);
        Assert.False(lb.Device.GetVring(0)!.IsTranslated || lb.Device.GetVring(1)!.IsTranslated);

        // The next start names the same ring IOVAs: the backend asks for them instead of using the old mappings.
        HashSet<ulong> ringPages = RingPages(lb.Guest);
        lb.Frontend.SetVringAddr(FrontendPayloads.VringAddrIova(0, lb.Guest.Rings[0]));
        lb.Frontend.SetVringAddr(FrontendPayloads.VringAddrIova(1, lb.Guest.Rings[1]));
        var asked = new List<IotlbMissRequest>();
        var clock = Stopwatch.StartNew();
        while (asked.Count < 2 && clock.Elapsed < Deadline)
            asked.AddRange(lb.Frontend.ServeIotlbMisses(TimeSpan.FromMilliseconds(200), _ => { }));
        output.WriteLine($"misses after the restart: {string.Join(", ", asked.Select(m => $"0x{m.Iova:x}/{m.Perm}"))}");
        Assert.True(asked.Count >= 2, "each restarted ring asks for its descriptor table");
        Assert.All(asked, m => Assert.Contains(m.Iova & ~(Page - 1), ringPages));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void After_an_acknowledged_invalidation_the_device_touches_nothing_until_the_memory_is_mapped_again(bool packed)
    {
        using SocketLoopback lb = MappedLoopback("iotlb-inval", packed);
        lb.HoldUndelivered = true;   // a round whose enqueue lands after an invalidation keeps its packets for later
        lb.Guest.ReceivedSeqs = new HashSet<ulong>();
        FrontendMemory.Region region = lb.Guest.Memory.Regions[0];
        long rounds = 0;
        int stop = 0;
        Workers.Run(
            token =>
            {
                while (Volatile.Read(ref stop) == 0 && !token.IsCancellationRequested)
                {
                    lb.Round(16, seq => 60 + (int)(seq % 1000));
                    Interlocked.Increment(ref rounds);
                }
            },
            token =>
            {
                try
                {
                    for (int cycle = 0; cycle < 5; cycle++)
                    {
                        WaitRounds(ref rounds, 20, token);
                        lb.Frontend.IotlbInvalidate(region.GuestPhysAddr, region.Size);   // acknowledged (REPLY_ACK)
                        Vring rx = lb.Device.GetVring(0)!, tx = lb.Device.GetVring(1)!;
                        ushort rxUsed = rx.LastUsedIdx, txAvail = tx.LastAvailIdx;
                        Assert.False(rx.IsTranslated || tx.IsTranslated, "rings translated after the invalidation");
                        WaitRounds(ref rounds, 20, token);
                        Assert.Equal(rxUsed, rx.LastUsedIdx);
                        Assert.Equal(txAvail, tx.LastAvailIdx);
                        lb.Frontend.IotlbMapAll(lb.Guest.Memory);
                    }
                }
                finally { Volatile.Write(ref stop, 1); }
            });
        Drain(lb);
        output.WriteLine($"{lb.Guest.Sent} sent, {lb.Guest.Received} received over {rounds} rounds and 5 invalidations");
        Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
        Assert.Equal(0UL, lb.Device.GetVring(0)!.Stats.TotalDrops + lb.Device.GetVring(1)!.Stats.TotalDrops);
    }

    private static void WaitRounds(ref long rounds, long more, CancellationToken token)
    {
        long until = Interlocked.Read(ref rounds) + more;
        while (Interlocked.Read(ref rounds) < until)
        {
            token.ThrowIfCancellationRequested();
            Thread.Yield();
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_device_never_writes_through_a_read_only_mapping_nor_reads_through_a_write_only_one(bool packed)
    {
        // Everything read-only but the ring areas the device writes: RX buffers cannot be written.
        using (SocketLoopback lb = new(Tag("iotlb-ro", packed), options: Iommu, flags: Flags, packed: packed, afterStart: (fe, g) =>
               {
                   fe.IotlbMapAll(g.Memory, RO);
                   MapRings(fe, g);
               }))
        {
            lb.Guest.Send(8, _ => 200);
            lb.Forward();
            Assert.Equal(0, lb.Guest.Collect());   // every RX buffer came back used with length 0
            Assert.True(Drops(lb.Device, 0, DropReason.IotlbPermissionDenied) >= 8);
            Assert.Equal(0UL, Drops(lb.Device, 1, DropReason.IotlbPermissionDenied));
        }
        // Everything write-only but the ring areas: TX buffers cannot be read.
        using (SocketLoopback lb = new(Tag("iotlb-wo", packed), options: Iommu, flags: Flags, packed: packed, afterStart: (fe, g) =>
               {
                   fe.IotlbMapAll(g.Memory, WO);
                   MapRings(fe, g);
               }))
        {
            lb.Guest.Send(8, _ => 200);
            lb.Forward();
            Assert.Equal(8UL, Drops(lb.Device, 1, DropReason.IotlbPermissionDenied));
            Assert.Equal(0, lb.Guest.Collect());
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_ring_area_the_device_writes_mapped_read_only_leaves_the_ring_unused_until_mapped_writable(bool packed)
    {
        using SocketLoopback lb = MappedLoopback("iotlb-ring-ro", packed);
        IRingLayout rx = lb.Guest.Rings[0];
        // Where the device writes used entries: a packed ring's descriptors, a split ring's used ring.
        ulong gpa = packed ? rx.DescGpa : rx.DeviceAreaGpa;
        ulong bytes = packed ? PackedRingLayout.DescBytes(rx.Size) : SplitRingLayout.UsedBytes(rx.Size);
        lb.Frontend.IotlbMap(lb.Guest.Memory, gpa, bytes, RO);
        Assert.False(lb.Device.GetVring(0)!.IsTranslated);
        Assert.False(lb.Device.GetVring(0)!.IsBroken);   // waiting for a better mapping, not an error
        Assert.True(lb.Device.GetVring(1)!.IsTranslated);
        lb.Frontend.IotlbMap(lb.Guest.Memory, gpa, bytes, RW);
        Assert.True(lb.Device.GetVring(0)!.IsReady);
        lb.Guest.Send(8, _ => 100);
        Drain(lb);
        Assert.Equal(8L, lb.Guest.Received);
    }

    /// <summary>
    /// A Linux guest with lazy invalidation (iommu.strict=0) flushes its whole domain: QEMU's intel-iommu sends two
    /// INVALIDATEs around the interrupt window, [0, 0xfee00000) and [0xfef00000, 2^64), the second ending exactly at
    /// 2^64 (iova + size wraps to 0). Both are accepted and remove everything. DPDK 22.11 compares iova + size and
    /// keeps every mapping above 0xfef00000 (where Linux puts its IOVAs): its guest in the viommu-lazy QEMU boot
    /// gets 4 ping replies in 100.
    /// </summary>
    [Fact]
    public void A_domain_wide_invalidation_ending_at_2_to_the_64_removes_every_mapping_above_its_start()
    {
        using SocketLoopback lb = MappedLoopback("iotlb-domain", packed: false);
        for (int i = 0; i < 3; i++) lb.Round(16, _ => 60);
        Drain(lb);
        Assert.All(lb.Device.Iotlb.Entries, e => Assert.True(e.Iova >= 0xfef00000UL));
        Assert.NotEqual(0, lb.Device.Iotlb.Count);

        lb.Frontend.IotlbInvalidate(0xfef00000, 0xffffffff01100000);   // acknowledged, not refused
        lb.Frontend.IotlbInvalidate(0, 0xfee00000);
        Assert.Equal(0, lb.Device.Iotlb.Count);
        Assert.False(lb.Device.GetVring(0)!.IsTranslated || lb.Device.GetVring(1)!.IsTranslated);

        // Mapped again, the device goes on.
        lb.Frontend.IotlbMapAll(lb.Guest.Memory);
        long received = lb.Guest.Received;
        lb.Guest.Send(8, _ => 100);
        Drain(lb);
        Assert.Equal(received + 8, lb.Guest.Received);
    }

    [Fact]
    public void Hostile_iotlb_messages_are_refused_and_counted_and_the_device_keeps_working()
    {
        using SocketLoopback lb = MappedLoopback("iotlb-hostile", packed: false);
        ulong gpa = lb.Guest.Memory.Regions[0].GuestPhysAddr, qva = lb.Guest.Memory.UserAddr(gpa);
        long before = ControlCounters.Refused(ControlError.BadIotlbMessage);
        var cases = new (string Name, Action<VhostUserFrontend> Send)[]
        {
            ("size 0", fe => fe.IotlbUpdate(0x1000, 0, qva, RW)),
            ("iova wraps", fe => fe.IotlbUpdate(ulong.MaxValue - 0xFFF, 0x2000, qva, RW)),
            ("uaddr wraps", fe => fe.IotlbUpdate(0x1000, 0x2000, ulong.MaxValue - 0xFFF, RW)),
            ("perm 0", fe => fe.IotlbUpdate(0x1000, 0x1000, qva, 0)),
            ("perm 4", fe => fe.IotlbUpdate(0x1000, 0x1000, qva, 4)),
            ("uaddr outside memory", fe => fe.IotlbUpdate(0x1000, 0x1000, 0x1000, RW)),
            ("uaddr past the region's end", fe => fe.IotlbUpdate(0x1000, lb.Guest.Memory.Regions[0].Size + 0x1000, qva, RW)),
            ("invalidate of size 0", fe => fe.IotlbInvalidate(0x1000, 0)),
            ("type MISS", fe => fe.IotlbUpdate(0x1000, 0x1000, qva, RW, VhostUserFrontend.IotlbMiss)),
            ("type ACCESS_FAIL", fe => fe.IotlbUpdate(0x1000, 0x1000, qva, RW, VhostUserFrontend.IotlbAccessFail)),
            ("type 9", fe => fe.IotlbUpdate(0x1000, 0x1000, qva, RW, 9)),
        };
        foreach (var (name, send) in cases)
        {
            var e = Assert.Throws<VhostUserException>(() => send(lb.Frontend));
            output.WriteLine($"{name}: {e.Message}");
            Assert.Equal(VhostUserFailure.Nack, e.Failure);
        }
        Assert.Equal(before + cases.Length, ControlCounters.Refused(ControlError.BadIotlbMessage));
        Assert.Equal(1, lb.Device.Iotlb.Count);   // only the mapping of the whole region
        lb.Guest.Send(8, _ => 100);
        Drain(lb);
        Assert.Equal(8L, lb.Guest.Received);

        // IOTLB_MSG on a device that did not negotiate IOMMU_PLATFORM.
        using SocketLoopback plain = new("iotlb-off");
        long off = ControlCounters.Refused(ControlError.IommuNotNegotiated);
        Assert.Throws<VhostUserException>(() => plain.Frontend.IotlbUpdate(0x1000, 0x1000, qva, RW));
        Assert.Equal(off + 1, ControlCounters.Refused(ControlError.IommuNotNegotiated));
    }

    [Fact]
    public void An_iotlb_update_flood_keeps_the_cache_bounded_and_fds_and_rss_flat()
    {
        using SocketLoopback lb = MappedLoopback("iotlb-flood", packed: false);
        FrontendMemory.Region region = lb.Guest.Memory.Regions[0];
        ulong pages = region.Size / Page;
        void Flood(ulong from)
        {
            for (ulong i = 0; i < 3000; i++)
                lb.Frontend.IotlbUpdate(0x100_0000_0000 + (from + i) * Page, Page, region.UserAddr + (i % pages) * Page, RW);
        }
        Flood(0);
        int fds = FrontendRigFds();
        long rss = ProcessResources.RssBytes;
        Flood(1_000_000);
        int fdsAfter = FrontendRigFds();
        long rssAfter = ProcessResources.RssBytes;
        output.WriteLine($"cache {lb.Device.Iotlb.Count} entries, {lb.Device.Iotlb.Evictions} evicted; fds {fds} -> {fdsAfter}; RSS {rss >> 20} -> {rssAfter >> 20} MiB");
        Assert.True(lb.Device.Iotlb.Count <= IotlbCache.MaxEntries);
        Assert.True(lb.Device.Iotlb.Evictions > 0);
        Assert.Equal(fds, fdsAfter);
        Assert.True(rssAfter - rss < 32L << 20, $"RSS grew by {(rssAfter - rss) >> 20} MiB");
        // Still a working device once its memory is mapped again.
        lb.Frontend.IotlbMapAll(lb.Guest.Memory);
        lb.Guest.Send(8, _ => 100);
        Drain(lb);
        Assert.Equal(8L, lb.Guest.Received);
    }

    private static int FrontendRigFds() => HotPath.Tests.Frontend.FrontendRig.OpenFds();
}
