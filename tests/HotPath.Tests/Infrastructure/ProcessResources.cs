namespace HotPath.Tests.Infrastructure;

/// <summary>Process-wide resource readings for leak checks: open fds and resident memory.</summary>
public static class ProcessResources
{
    /// <summary>
    /// Open fds of this process, except the runtime's own assembly files: the runtime opens those lazily (a
    /// Microsoft.Win32.Registry.dll appeared twice in the middle of a 10,000-cycle leak check), and they are
    /// neither HotPath's nor a leak.
    /// </summary>
    public static int OpenFds => Directory.GetFiles("/proc/self/fd").Count(f => !IsRuntimeFile(f));

    private static bool IsRuntimeFile(string fd)
    {
        try
        {
            string? target = new FileInfo(fd).LinkTarget;
            return target != null && target.EndsWith(".dll", StringComparison.Ordinal) && File.Exists(target);
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>What each open fd refers to (for leak reports).</summary>
    public static IEnumerable<string> FdTargets() =>
        Directory.GetFiles("/proc/self/fd").Select(f =>
        {
            try { return $"{Path.GetFileName(f)}={new FileInfo(f).LinkTarget}"; }
            catch (IOException) { return Path.GetFileName(f); }
        });

    /// <summary>Resident set size in bytes (from /proc/self/statm).</summary>
    public static long RssBytes
    {
        get
        {
            string[] f = File.ReadAllText("/proc/self/statm").Split(' ');
            return long.Parse(f[1]) * Environment.SystemPageSize;
        }
    }

    /// <summary>
    /// Mappings of memfd files in this process: every guest region, dirty log and inflight region is one, so a
    /// mapping the backend forgot to unmap shows here exactly. The runtime's own W^X code-heap memfds
    /// ("doublemapper") come and go with the JIT and are not counted.
    /// </summary>
    public static int MemfdMappings => File.ReadLines("/proc/self/maps")
        .Count(l => l.Contains("/memfd:", StringComparison.Ordinal) && !l.Contains("doublemapper", StringComparison.Ordinal));
}
