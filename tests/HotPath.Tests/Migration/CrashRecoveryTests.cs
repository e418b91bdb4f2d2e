using System.Diagnostics;
using HotPath.Engine.Inflight;
using HotPath.Engine.Interop;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Migration;

/// <summary>
/// Crash recovery with inflight tracking, with real processes: a backend (hp-test-backend, HotPath's managed API in
/// a child process, client mode) forwards the guest's TX to its RX; it is killed with SIGKILL in the middle of the
/// traffic, a new one is started, and HotPath's frontend, which kept guest memory, its rings and the inflight memfd,
/// accepts it and hands everything back as QEMU does (used index restored, SET_INFLIGHT_FD). Every packet carries a
/// sequence number: no descriptor may be lost or completed twice, and no packet delivered twice.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class CrashRecoveryTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private const int Kills = 8;
    private const int ForwarderBurst = 32;

    private static readonly Dictionary<string, string> LogInfo = new() { ["HOTPATH_LOG"] = "info" };

    private static int Size(ulong seq) => 60 + (int)(seq * 7919 % 1459);

    [Fact]
    public void Split_backend_killed_mid_traffic_resumes_from_the_inflight_area_without_losing_or_repeating_a_descriptor() =>
        KilledMidTraffic(packed: false);

    /// <summary>
    /// The packed twin. The frontend keeps a packed ring's base across the loss (as QEMU: there is no used.idx to
    /// restore it from), so the restarted backend resumes where the area says and writes back the descriptors the
    /// killed one had taken (it wrote used ids and lengths, and maybe flags, over them) before reading them again.
    /// </summary>
    [Fact]
    public void Packed_backend_killed_mid_traffic_resumes_from_the_inflight_area_without_losing_or_repeating_a_descriptor() =>
        KilledMidTraffic(packed: true);

    private void KilledMidTraffic(bool packed)
    {
        string path = DpdkBackend.NewSocketPath("crash");
        using var listener = VhostUserListener.Listen(path);
        using var guest = new GuestTraffic(packed: packed) { ReceivedSeqs = new HashSet<ulong>() };
        var options = new NetDeviceOptions { TrackInflight = true };
        var random = new Random(11);
        InflightArea? area = null;
        int resubmittedTotal = 0;
        try
        {
            for (int life = 0; life <= Kills; life++)
            {
                // HOTPATH_LOG=info: the control plane's lines about the inflight area (resubmitted entries, a region
                // that does not match the ring) reach the child's stderr, where they are read below.
                using var child = ChildBackend.Start(ChildBackend.TestBackendPath, LogInfo, "--socket", path, "--client");
                using var fe = listener.Accept(Wait);
                fe.Inflight = area;
                fe.Start(guest.Memory, guest.Rings, options);
                area = fe.Inflight;
                Assert.True(child.WaitForLine("started", Wait), $"life {life}: the backend did not start the device: {string.Join(" | ", child.Output)}");
                int resubmitted = ResubmittedByRestart(child);
                resubmittedTotal += resubmitted;
                Assert.DoesNotContain(child.Output, l => l.Contains("not tracked by an in-order device", StringComparison.Ordinal));

                long target = guest.Received + 20_000 + random.Next(20_000);
                Pump(guest, () => guest.Received >= target, $"life {life}");
                if (life == Kills)
                {
                    Drain(guest);
                    CheckNothingLost(guest, fe.Stop(), resubmittedTotal);
                    break;
                }
                // Kill it while it works: the guest hands it a full ring of small packets at once and SIGKILL follows
                // a random few microseconds later, while the backend forwards them (packets in hand, a burst that took
                // heads and has not published them, or one that published and has not cleared them).
                KillWhileBusy(child, guest, random);
                output.WriteLine($"life {life}: killed pid {child.Pid} after {guest.Received} packets received ({guest.Sent} sent, {guest.Tx.InFlight} TX in flight); " +
                                 $"{resubmitted} entries resubmitted at its start; area now: {DescribeArea(area!, guest)}");
                // The frontend notices the backend is gone: the rings restart at the used index (QEMU's restore).
                VhostUserFrontend.RestoreBasesAfterBackendLoss(guest.Memory, guest.Rings);
            }
        }
        finally { area?.Dispose(); }
    }

    private static void KillWhileBusy(ChildBackend child, GuestTraffic guest, Random random)
    {
        Drain(guest);   // the backend caught up: the ring is ours to fill
        long delay = Stopwatch.Frequency * random.Next(0, 30) / 1_000_000;
        guest.Send((int)guest.Tx.Size, _ => 64);
        // It is at work once it published its first burst of them; the ring keeps it busy for tens of microseconds.
        var clock = Stopwatch.StartNew();
        while (!guest.TxUsedWaiting)
            Assert.True(clock.Elapsed < Wait, "the backend did not take the packets");
        long t0 = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() - t0 < delay) { }
        child.Kill();
    }

    /// <summary>Runs guest traffic until <paramref name="done"/>, failing when it stalls.</summary>
    private static void Pump(GuestTraffic guest, Func<bool> done, string what)
    {
        var clock = Stopwatch.StartNew();
        long last = guest.Received;
        var lastProgress = clock.Elapsed;
        while (!done())
        {
            guest.Send(64, Size);
            guest.Collect();
            if (guest.Received != last)
            {
                last = guest.Received;
                lastProgress = clock.Elapsed;
            }
            else if (clock.Elapsed - lastProgress > Wait) Assert.Fail($"{what}: traffic stalled at {guest.Received} packets");
            else Thread.Yield();
        }
    }

    /// <summary>Stops sending and waits until every TX descriptor came back and nothing more arrives.</summary>
    private static void Drain(GuestTraffic guest)
    {
        var clock = Stopwatch.StartNew();
        long seen = -1;
        var quietSince = clock.Elapsed;
        while (guest.Tx.InFlight != 0 || clock.Elapsed - quietSince < TimeSpan.FromMilliseconds(300))
        {
            guest.Collect();
            if (guest.Received != seen)
            {
                seen = guest.Received;
                quietSince = clock.Elapsed;
            }
            Assert.True(clock.Elapsed < Wait, $"{guest.Tx.InFlight} TX descriptors never came back");
            Thread.Sleep(1);
        }
    }

    private void CheckNothingLost(GuestTraffic guest, uint[] bases, int resubmitted)
    {
        ushort rxUsed = GuestTraffic.UsedPosition(guest.Rx), txUsed = GuestTraffic.UsedPosition(guest.Tx);
        // TX: every descriptor posted came back used (exactly once: the driver throws on a second completion).
        Assert.Equal(0, guest.Tx.InFlight);
        Assert.Equal(txUsed, (ushort)bases[1]);
        // RX: the device holds no buffer it took without returning it: where it would go on is where it stopped.
        Assert.Equal(rxUsed, (ushort)bases[0]);
        // Packets: none twice (checked on arrival), and the only ones missing were in a killed forwarder's hands.
        long lost = guest.Sent - guest.Received;
        Assert.InRange(lost, 0, (long)Kills * ForwarderBurst);
        Assert.Equal(guest.Received, guest.ReceivedSeqs!.Count);
        output.WriteLine($"{Kills} SIGKILLs: {guest.Sent} packets sent, {guest.Received} received once each, {lost} lost in " +
                         $"killed forwarders' hands (at most {ForwarderBurst} each); {resubmitted} descriptors resubmitted by restarted backends; " +
                         $"every TX descriptor completed once, RX base {bases[0]} = used {rxUsed}");
    }

    /// <summary>The resubmission counts the restarted backend logged for its rings.</summary>
    private static int ResubmittedByRestart(ChildBackend child)
    {
        int n = 0;
        foreach (string l in child.Output)
        {
            int at = l.IndexOf(" entries to resubmit", StringComparison.Ordinal);
            if (at < 0) continue;
            int start = l.LastIndexOf(' ', at - 1) + 1;
            n += int.Parse(l.AsSpan(start, at - start));
        }
        return n;
    }

    /// <summary>What the dead backend left in the inflight area: entries still inflight per ring, and whether a batch was published but not cleared.</summary>
    private static string DescribeArea(InflightArea area, GuestTraffic guest)
    {
        nint map = LibC.mmap(0, (nuint)area.MmapSize, LibC.PROT_READ, LibC.MAP_SHARED, area.Fd, (long)area.MmapOffset);
        if (map == LibC.MAP_FAILED) return "(cannot map)";
        try
        {
            var parts = new List<string>();
            bool packed = guest.Tx is PackedRingDriver;
            ulong per = InflightRegion.PerQueueSize(area.QueueSize, packed);
            for (int q = 0; q < area.NumQueues; q++)
            {
                byte* r = (byte*)map + per * (ulong)q;
                int inflight = 0;
                int stride = packed ? InflightRegion.PackedDescSize : InflightRegion.SplitDescSize;
                byte* d = r + (packed ? InflightRegion.PackedHeaderSize : InflightRegion.SplitHeaderSize);
                for (int i = 0; i < area.QueueSize; i++) if (d[i * stride] == 1) inflight++;
                if (packed)
                {
                    var p = (InflightPackedHeader*)r;
                    parts.Add($"vring {q}: v{p->Version} used_idx {p->UsedIdx}/{p->UsedWrapCounter} old {p->OldUsedIdx}/{p->OldUsedWrapCounter}, {inflight} inflight");
                    continue;
                }
                var h = (InflightSplitHeader*)r;
                ushort ringUsed = GuestTraffic.UsedPosition(q == 0 ? guest.Rx : guest.Tx);
                parts.Add($"vring {q}: v{h->Version} used_idx {h->UsedIdx} ring {ringUsed} head {h->LastBatchHead}, {inflight} inflight{(h->UsedIdx != ringUsed ? $", batch of {(ushort)(ringUsed - h->UsedIdx)} published not cleared" : "")}");
            }
            return string.Join("; ", parts);
        }
        finally { LibC.munmap(map, (nuint)area.MmapSize); }
    }
}
