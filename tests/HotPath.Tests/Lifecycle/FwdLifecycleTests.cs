using System.Diagnostics;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Lifecycle;

/// <summary>
/// Issue 11: after 36-76 ordinary connect / forward / disconnect cycles, every new hp-fwd device forwarded nothing
/// (each exited polling thread stranded its 256-mbuf cache). One hp-fwd (a C program whose polling threads are
/// created and joined per device) serves a thousand lifecycles from HotPath's own frontend; every one must forward,
/// and after each destroy_device the pool's in-use count must be back to 0 while hp-fwd's fds and threads stay flat.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class FwdLifecycleTests(ITestOutputHelper output)
{
    /// <summary>HP_LIFECYCLES overrides the count (a long soak: HP_LIFECYCLES=20000).</summary>
    private static int Lifecycles => int.TryParse(Environment.GetEnvironmentVariable("HP_LIFECYCLES"), out int n) && n > 0 ? n : 1000;

    private const int PacketsPerCycle = 64;

    [Fact]
    public void One_hp_fwd_serves_a_thousand_device_lifecycles_and_every_mbuf_comes_back()
    {
        using var child = ChildBackend.StartFwd("lifecycle", "io", out string socket);

        int fdsAfterWarmup = 0, threadsAfterWarmup = 0;
        long rssAfterWarmup = 0;
        var clock = Stopwatch.StartNew();
        for (int cycle = 1; cycle <= Lifecycles; cycle++)
        {
            int from = child.Output.Count;
            int echoed;
            using (var dev = EchoDevice.Open(socket)) echoed = dev.Echo(PacketsPerCycle);
            Assert.True(echoed == PacketsPerCycle, $"cycle {cycle}: {echoed} of {PacketsPerCycle} packets came back\n" + Tail(child));
            string? destroyed = child.WaitForLineAfter(from, "destroy_device vid=", TimeSpan.FromSeconds(30));
            Assert.True(destroyed != null, $"cycle {cycle}: no destroy_device line\n" + Tail(child));
            Assert.Contains(" pool_in_use=0 ", destroyed + " ");
            if (cycle == 10)
            {
                fdsAfterWarmup = Count($"/proc/{child.Pid}/fd");
                threadsAfterWarmup = Count($"/proc/{child.Pid}/task");
                rssAfterWarmup = RssBytes(child.Pid);
            }
            if (cycle % 250 == 0) output.WriteLine($"{cycle} lifecycles in {clock.Elapsed.TotalSeconds:F1} s: {destroyed}");
        }
        // Nothing grows with the lifecycles: no fd, no thread (a few runtime threads may come and go: allow 2).
        // The last connection closes asynchronously after its destroy_device line: wait for it, boundedly.
        SpinWait.SpinUntil(() => Count($"/proc/{child.Pid}/fd") <= fdsAfterWarmup, TimeSpan.FromSeconds(10));
        Assert.InRange(Count($"/proc/{child.Pid}/fd"), 0, fdsAfterWarmup);
        Assert.InRange(Count($"/proc/{child.Pid}/task"), 0, threadsAfterWarmup + 2);
        // Memory: a leak of 64 KiB per lifecycle (a vring's native blocks, a mapping) would show as 64 MiB here.
        long grew = RssBytes(child.Pid) - rssAfterWarmup;
        output.WriteLine($"hp-fwd RSS grew by {grew >> 10} KiB over {Lifecycles - 10} lifecycles");
        Assert.True(grew < 64L << 20, $"hp-fwd's RSS grew by {grew >> 20} MiB over {Lifecycles - 10} lifecycles");
        Assert.False(child.HasExited);
        Assert.DoesNotContain(child.Output, l => l.Contains("no packet dequeued", StringComparison.Ordinal));
    }

    private static int Count(string dir) => Directory.GetFileSystemEntries(dir).Length;

    private static long RssBytes(int pid) => long.Parse(File.ReadAllText($"/proc/{pid}/statm").Split(' ')[1]) * Environment.SystemPageSize;

    private static string Tail(ChildBackend child) => string.Join('\n', child.Output.TakeLast(30));
}
