using HotPath.Engine;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Migration;

/// <summary>
/// Migration made visible (issue 15): HotPath's frontend switches VHOST_F_LOG_ALL on and off over a real socket on
/// a running device while packets flow; the features_changed callback fires each time with the bit as set, and
/// the dirty-logging counters (per vring: log_pages_marked, log_cache_flushes; per device: their sum) rise while
/// logging is on and stand still while it is off.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class LogStatsTests(ITestOutputHelper output)
{
    private static string Callback(ulong features, bool logAll) =>
        $"features_changed 0 0x{(logAll ? features | 1UL << VirtioFeatures.LogAll : features & ~(1UL << VirtioFeatures.LogAll)):x}";

    [Fact]
    public void Log_all_on_a_running_device_fires_features_changed_and_the_log_counters_rise_only_while_it_is_on()
    {
        using var lb = new SocketLoopback("mig-stats");
        using var log = new FrontendDirtyLog(DirtyLogTests.GuestEnd(lb.Guest.Memory));
        ulong features = lb.Device.Features;
        lb.Round(64, _ => 60);
        Assert.Equal(new LogStats(0, 0), lb.Device.ReadLogStats());   // traffic without logging counts nothing

        lb.Frontend.EnableLogging(log, lb.Guest.Memory, lb.Guest.Rings);   // every request acked: logging is on
        Assert.True(lb.Device.Logging);
        Assert.Equal(1, lb.Events.Count("features_changed"));
        Assert.Contains(Callback(features, logAll: true), lb.Events.All);
        log.Clear();
        for (int r = 0; r < 20; r++) lb.Round(64, seq => 60 + (int)(seq * 7919 % 1459));

        LogStats on = lb.Device.ReadLogStats();
        var dirty = new HashSet<ulong>();
        log.Collect(dirty);
        ulong rxPages = lb.Device.GetVring(0)!.Stats[VringStats.LogPagesMarked], txPages = lb.Device.GetVring(1)!.Stats[VringStats.LogPagesMarked];
        ulong rxFlushes = lb.Device.GetVring(0)!.Stats[VringStats.LogCacheFlushes], txFlushes = lb.Device.GetVring(1)!.Stats[VringStats.LogCacheFlushes];
        output.WriteLine($"logging on, 20 rounds of 64 packets: {on.PagesMarked} pages marked in {on.CacheFlushes} flushes " +
                         $"(guest RX vring {rxPages}/{rxFlushes}, guest TX vring {txPages}/{txFlushes}); {dirty.Count} distinct dirty pages in the log");
        // Both rings' bursts logged (RX: packet buffers and used ring; TX: its used ring), one flush per burst at least.
        Assert.True(rxFlushes >= 20 && txFlushes >= 20, $"flushes: rx {rxFlushes} tx {txFlushes}");
        Assert.True(rxPages >= rxFlushes && txPages >= txFlushes);
        Assert.Equal(rxPages + txPages, on.PagesMarked);
        Assert.Equal(rxFlushes + txFlushes, on.CacheFlushes);
        // Every bit in the log was set by a counted mark.
        Assert.True(on.PagesMarked >= (ulong)dirty.Count && dirty.Count > 0, $"{on.PagesMarked} marks for {dirty.Count} dirty pages");

        lb.Frontend.DisableLogging(lb.Guest.Memory, lb.Guest.Rings);
        Assert.False(lb.Device.Logging);
        Assert.Equal(2, lb.Events.Count("features_changed"));
        Assert.Equal(Callback(features, logAll: false), lb.Events.All.Last(e => e.StartsWith("features_changed")));
        LogStats off = lb.Device.ReadLogStats();
        for (int r = 0; r < 20; r++) lb.Round(64, _ => 60);
        Assert.Equal(off, lb.Device.ReadLogStats());   // kept, and still while logging is off
        Assert.True(off.PagesMarked >= on.PagesMarked);
        Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
    }
}
