namespace HotPath.Tests.Infrastructure;

/// <summary>Process-wide resource readings for leak checks: open fds and resident memory.</summary>
public static class ProcessResources
{
    /// <summary>
    /// Open fds, without the assemblies and native libraries the runtime opens as a test first reaches code that needs
    /// them (they made the leak checks flaky: a test that happened to load Microsoft.Win32.Registry.dll "leaked" 2 fds).
    /// </summary>
    public static int OpenFds => Directory.GetFiles("/proc/self/fd").Count(f => !IsLoadedCode(f));

    private static bool IsLoadedCode(string fdPath)
    {
        try
        {
            string t = new FileInfo(fdPath).LinkTarget ?? "";
            return t.EndsWith(".dll", StringComparison.Ordinal) || t.Contains(".so", StringComparison.Ordinal);
        }
        catch (IOException) { return false; }
    }

    /// <summary>What each open fd refers to (for leak reports).</summary>
    public static IEnumerable<string> FdTargets() =>
        Directory.GetFiles("/proc/self/fd").Select(f =>
        {
            try { return $"{Path.GetFileName(f)}={new FileInfo(f).LinkTarget}"; }
            catch (IOException) { return Path.GetFileName(f); }
        });

    /// <summary>Threads of this process (/proc/self/task).</summary>
    public static int Threads => Directory.GetDirectories("/proc/self/task").Length;

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
    /// Mappings (VMAs) of this process. The tests turn guard pages on, so every ring and pool the library maps is a
    /// mapping of its own between PROT_NONE guards: one it forgot to unmap adds at least one line.
    /// </summary>
    public static int Mappings => File.ReadLines("/proc/self/maps").Count();

    /// <summary>
    /// Mappings of memfd files in this process: every guest region, dirty log and inflight region is one, so a
    /// mapping the backend forgot to unmap shows here exactly. The runtime's own W^X code-heap memfds
    /// ("doublemapper") come and go with the JIT and are not counted.
    /// </summary>
    public static int MemfdMappings => File.ReadLines("/proc/self/maps")
        .Count(l => l.Contains("/memfd:", StringComparison.Ordinal) && !l.Contains("doublemapper", StringComparison.Ordinal));
}
