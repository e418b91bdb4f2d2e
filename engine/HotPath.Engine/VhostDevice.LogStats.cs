using HotPath.Engine.Stats;

namespace HotPath.Engine;

/// <summary>The device's dirty-logging figures: what its vrings' bursts marked, plus what the C API's log calls did.</summary>
public readonly record struct LogStats(ulong PagesMarked, ulong CacheFlushes);

/// <summary>
/// Dirty-logging counters of the whole device (hp_vhost_get_log_stats): the sum of every vring's
/// <c>log_pages_marked</c> and <c>log_cache_flushes</c> (counted by the bursts, see <see cref="VringStats"/>) and the
/// pages hp_vhost_log_write / hp_vhost_log_used_vring marked from application threads (atomically: any thread may
/// call them). Readable at any time without a lock; a figure may be one burst behind.
/// </summary>
public sealed partial class VhostDevice
{
    private ulong _apiLogPages;

    private void CountApiLogPages(ulong pages)
    {
        if (pages != 0) Interlocked.Add(ref _apiLogPages, pages);
    }

    /// <summary>The device's dirty-logging figures so far (they survive logging being switched off and on).</summary>
    public LogStats ReadLogStats()
    {
        ulong pages = Volatile.Read(ref _apiLogPages), flushes = 0;
        for (int i = 0; i < VringCount; i++)
        {
            if (_vrings[i] is not { } v) continue;
            pages += v.Stats[VringStats.LogPagesMarked];
            flushes += v.Stats[VringStats.LogCacheFlushes];
        }
        return new LogStats(pages, flushes);
    }
}
