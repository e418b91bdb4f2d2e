namespace HotPath.Engine.Buffers;

/// <summary>Argument rules for <see cref="Mempool"/> creation, each failure a readable sentence.</summary>
public static class MempoolLimits
{
    /// <summary>Largest object count (the free-object ring needs count + 1 rounded up to a power of two).</summary>
    public const uint MaxCount = (1u << 27) - 1;
    /// <summary>Largest per-thread cache (RTE_MEMPOOL_CACHE_MAX_SIZE).</summary>
    public const uint MaxCacheSize = 512;

    /// <summary>Cache flush threshold, as DPDK's CALC_CACHE_FLUSHTHRESH.</summary>
    public static uint FlushThreshold(uint cacheSize) => cacheSize * 3 / 2;

    /// <summary>Bytes per object: the mbuf header plus the data room rounded up to a cache line.</summary>
    public static uint ElementSize(ushort dataRoom) => (uint)Mbuf.HeaderSize + (((uint)dataRoom + 63) & ~63u);

    /// <summary>Why these arguments cannot make a pool, or null.</summary>
    public static string? Validate(string? name, uint count, uint cacheSize, ushort dataRoom, MempoolFlags flags)
    {
        if (NativeName.Validate(name, MempoolHeader.NameSize, "mempool") is { } bad) return bad;
        string who = $"mempool \"{name}\"";
        if ((flags & ~MempoolFlags.NoHuge) != 0)
            return $"{who}: unknown flag bits 0x{(uint)flags & ~(uint)MempoolFlags.NoHuge:x} (only HP_MEMPOOL_F_NO_HUGE=1 exists)";
        if (count == 0) return $"{who}: count is 0";
        if (count > MaxCount) return $"{who}: count {count} exceeds the maximum {MaxCount}";
        if (cacheSize > MaxCacheSize) return $"{who}: cache_size {cacheSize} exceeds the maximum {MaxCacheSize}";
        if (FlushThreshold(cacheSize) > count)
            return $"{who}: cache_size {cacheSize} is too large for {count} objects (a cache may grow to cache_size * 3 / 2 = " +
                   $"{FlushThreshold(cacheSize)} objects; use cache_size <= {count * 2 / 3}, or 0 for no cache)";
        if (dataRoom <= Mbuf.DefaultHeadroom)
            return $"{who}: data_room {dataRoom} leaves no room for packet data: it includes the {Mbuf.DefaultHeadroom}-byte " +
                   $"headroom, as in rte_pktmbuf_pool_create (e.g. {Mbuf.DefaultHeadroom} + 2048 = {Mbuf.DefaultHeadroom + 2048})";
        ulong bytes = (ulong)count * ElementSize(dataRoom);
        long memTotal = MemTotalBytes();
        if (memTotal > 0 && bytes > (ulong)memTotal)
            return $"{who}: {count} objects of {ElementSize(dataRoom)} bytes need {bytes >> 20} MiB, more than this machine's " +
                   $"{memTotal >> 20} MiB of memory";
        return null;
    }

    private static long MemTotalBytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(9).Trim().TrimEnd("kB").Trim()) * 1024;
        }
        catch (IOException)
        {
        }
        return -1;
    }
}
