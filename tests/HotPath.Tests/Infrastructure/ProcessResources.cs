namespace HotPath.Tests.Infrastructure;

/// <summary>Process-wide resource readings for leak checks: open fds and resident memory.</summary>
public static class ProcessResources
{
    public static int OpenFds => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>Resident set size in bytes (from /proc/self/statm).</summary>
    public static long RssBytes
    {
        get
        {
            string[] f = File.ReadAllText("/proc/self/statm").Split(' ');
            return long.Parse(f[1]) * Environment.SystemPageSize;
        }
    }

    /// <summary>Mappings of this process (lines of /proc/self/maps) — guest memory that stayed mapped shows here.</summary>
    public static int Mappings => File.ReadAllLines("/proc/self/maps").Length;
}
