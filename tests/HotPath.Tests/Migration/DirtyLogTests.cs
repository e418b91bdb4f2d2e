using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Migration;

/// <summary>
/// Live-migration dirty logging over a real socket: HotPath's frontend switches VHOST_F_LOG_ALL on and off on a
/// running device (SET_LOG_BASE, SET_FEATURES, SET_VRING_ADDR with VHOST_VRING_F_LOG, as QEMU does) while packets
/// flow through real bursts, and compares the log with a model of every write the device made.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class DirtyLogTests(ITestOutputHelper output)
{
    internal static ulong GuestEnd(FrontendMemory m) => m.Regions.Max(r => r.GuestPhysAddr + r.Size);

    private static int Size(ulong seq) => 60 + (int)(seq * 7919 % 1459);   // 60..1518, every page offset over time

    [Fact]
    public void Every_page_written_during_a_million_packets_is_marked_and_no_other()
    {
        using var lb = new SocketLoopback("mig-log");
        using var log = new FrontendDirtyLog(GuestEnd(lb.Guest.Memory));
        var model = new DirtyLogModel((SplitRingDriver)lb.Guest.Rx, lb.Guest.Rings);
        lb.Guest.OnRxUsed = model.RxUsed;
        lb.Frontend.EnableLogging(log, lb.Guest.Memory, lb.Guest.Rings);
        Assert.True(lb.Device.Logging);
        model.Restart(lb.Guest.Memory);
        log.Clear();

        var dirty = new HashSet<ulong>();
        int syncs = 0;
        long pagesChecked = 0;
        while (lb.Guest.Received < 1_000_000)
        {
            for (int r = 0; r < 16; r++)
            {
                lb.Round(200, Size);
                model.UsedRings(lb.Guest.Memory);
            }
            // A log sync, as the frontend does it during migration: take and clear the bits, compare with the model.
            dirty.Clear();
            log.Collect(dirty);
            ulong[] missed = model.Pages.Except(dirty).Take(8).ToArray();
            ulong[] extra = dirty.Except(model.Pages).Take(8).ToArray();
            Assert.True(missed.Length == 0, $"sync {syncs}: pages written but not marked: {string.Join(", ", missed.Select(p => $"0x{p << 12:x}"))}");
            Assert.True(extra.Length == 0, $"sync {syncs}: pages marked but never written: {string.Join(", ", extra.Select(p => $"0x{p << 12:x}"))}");
            pagesChecked += model.Pages.Count;
            model.Pages.Clear();
            syncs++;
        }
        Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
        Assert.Equal(0, lb.Device.Log!.OutOfRangeWrites);
        output.WriteLine($"{lb.Guest.Received} packets, {syncs} log syncs, {pagesChecked} dirty pages matched the model exactly");
    }

    [Fact]
    public void Log_all_switched_on_and_off_while_traffic_runs_starts_and_stops_logging_without_a_restart()
    {
        using var lb = new SocketLoopback("mig-toggle");
        using var log = new FrontendDirtyLog(GuestEnd(lb.Guest.Memory));
        var model = new DirtyLogModel((SplitRingDriver)lb.Guest.Rx, lb.Guest.Rings);
        object modelLock = new();
        lb.Guest.OnRxUsed = (id, len) => { lock (modelLock) model.RxUsed(id, len); };
        int phase = 0;               // 1: logging confirmed on, rounds are modelled; 2: stop modelling; 3: off
        int modelledRoundsRunning = 0, modelledRounds = 0;
        var enough = TimeSpan.FromSeconds(30);
        Exception? failed = null;
        using var stop = new CancellationTokenSource();
        var traffic = new Thread(() =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    bool modelled = Volatile.Read(ref phase) == 1;
                    if (modelled)
                    {
                        Interlocked.Increment(ref modelledRoundsRunning);
                        if (Volatile.Read(ref phase) != 1) modelled = false;   // raced with the switch: not modelled
                    }
                    if (!modelled) lb.Guest.OnRxUsed = null;
                    else lb.Guest.OnRxUsed = (id, len) => { lock (modelLock) model.RxUsed(id, len); };
                    lb.Round(64, Size);
                    if (modelled)
                    {
                        lock (modelLock) model.UsedRings(lb.Guest.Memory);
                        Interlocked.Decrement(ref modelledRoundsRunning);
                        Interlocked.Increment(ref modelledRounds);
                    }
                }
            }
            catch (Exception e) { failed = e; }
        }) { IsBackground = true, Name = "guest+backend traffic" };
        traffic.Start();
        try
        {
            var dirty = new HashSet<ulong>();
            for (int cycle = 0; cycle < 3; cycle++)
            {
                long before = Interlocked.Read(ref lb.Guest.Received);
                lb.Frontend.EnableLogging(log, lb.Guest.Memory, lb.Guest.Rings);   // every request acked: logging is on now
                Assert.True(lb.Device.Logging);
                lock (modelLock) model.Restart(lb.Guest.Memory);
                int roundsFrom = Volatile.Read(ref modelledRounds);
                Volatile.Write(ref phase, 1);
                // 20 whole modelled rounds while logging is on (a fixed sleep was at the scheduler's mercy).
                Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref modelledRounds) - roundsFrom >= 20 || failed != null, enough),
                    $"cycle {cycle}: the traffic thread modelled {modelledRounds - roundsFrom} rounds in {enough.TotalSeconds} s");
                Volatile.Write(ref phase, 2);
                SpinWait.SpinUntil(() => Volatile.Read(ref modelledRoundsRunning) == 0, TimeSpan.FromSeconds(10));
                dirty.Clear();
                log.Collect(dirty);
                int modelled;
                lock (modelLock)
                {
                    modelled = model.Pages.Count;
                    ulong[] missed = model.Pages.Except(dirty).Take(8).ToArray();
                    Assert.True(missed.Length == 0, $"cycle {cycle}: written while logging but not marked: {string.Join(", ", missed.Select(p => $"0x{p << 12:x}"))}");
                }
                Assert.True(modelled > 0, $"cycle {cycle}: no traffic was modelled while logging was on");

                lb.Frontend.DisableLogging(lb.Guest.Memory, lb.Guest.Rings);       // acked: no burst logs any more
                Assert.False(lb.Device.Logging);
                Volatile.Write(ref phase, 3);
                log.Clear();
                long offFrom = Interlocked.Read(ref lb.Guest.Received);
                Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref lb.Guest.Received) >= offFrom + 20 * 64 || failed != null, enough),
                    $"cycle {cycle}: traffic stopped after LOG_ALL was switched off");
                Assert.Equal(0, log.CountDirty());
                Assert.True(Interlocked.Read(ref lb.Guest.Received) > before);
                output.WriteLine($"cycle {cycle}: {modelled} pages written while logging, all marked; none after switching off");
                Assert.Null(failed);
            }
        }
        finally
        {
            stop.Cancel();
            traffic.Join();
        }
        Assert.Null(failed);
        // Every packet sent came back: switching logging on and off lost nothing.
        lb.Forward();
        lb.Guest.Collect();
        Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
        Assert.Equal(0, lb.Guest.Tx.InFlight);
        Assert.Equal(6, lb.Events.Count("features_changed"));
    }

    [Fact]
    public void Logging_overhead_at_64_bytes_is_measured_rough()
    {
        // Rough, in-process, under whatever else runs on this machine: the thread CPU time of the same bursts with
        // logging off and on (CPU time leaves out the waits for a core; caches are still shared). The
        // BenchmarkDotNet case in perf/ is the real measure.
        using var lb = new SocketLoopback("mig-cost");
        using var log = new FrontendDirtyLog(GuestEnd(lb.Guest.Memory));
        static int Size64(ulong _) => 64;
        double Run(int packets)
        {
            for (int i = 0; i < 20; i++) lb.Round(200, Size64);   // warm-up
            lb.BackendNanoseconds = 0;
            long start = lb.Guest.Received;
            while (lb.Guest.Received - start < packets) lb.Round(200, Size64);
            return (double)lb.BackendNanoseconds / (lb.Guest.Received - start);
        }
        // Alternate short runs so that the machine's load (other builds on the same two cores) hits both alike;
        // compare the medians.
        Run(200_000);
        lb.Frontend.EnableLogging(log, lb.Guest.Memory, lb.Guest.Rings);
        Run(200_000);
        var off = new List<double>();
        var on = new List<double>();
        for (int round = 0; round < 10; round++)
        {
            lb.Frontend.DisableLogging(lb.Guest.Memory, lb.Guest.Rings);
            off.Add(Run(100_000));
            lb.Frontend.EnableLogging(log, lb.Guest.Memory, lb.Guest.Rings);
            on.Add(Run(100_000));
        }
        off.Sort();
        on.Sort();
        double medOff = off[off.Count / 2], medOn = on[on.Count / 2];
        output.WriteLine($"ROUGH (thread CPU time, 2 shared cores): backend dequeue+enqueue bursts at 64 B, ns/packet, median of 10 x 100k " +
                         $"alternating: logging off {medOff:0.0}, on {medOn:0.0} ({(medOn / medOff - 1) * 100:+0.0;-0.0}%); " +
                         $"off [{string.Join(", ", off.Select(x => x.ToString("0")))}] on [{string.Join(", ", on.Select(x => x.ToString("0")))}]");
        Assert.True(log.CountDirty() > 0);
    }
}
