namespace HotPath.Fuzz.Core;

/// <summary>
/// Open fds and memfd mappings of this process (the flat-resources checks of the message-sequence property). Files
/// the runtime maps as it loads assemblies and native libraries are not counted: they come and go with the code a
/// case happens to reach first, not with anything HotPath does.
/// </summary>
internal static class ProcessFds
{
    /// <summary>fd number → what it refers to, without the runtime's loaded assemblies and libraries.</summary>
    public static Dictionary<string, string> Snapshot()
    {
        var d = new Dictionary<string, string>();
        foreach (string f in Directory.GetFiles("/proc/self/fd"))
        {
            string target;
            try { target = new FileInfo(f).LinkTarget ?? "?"; }
            catch (IOException) { continue; }   // closed while we looked
            if (target.EndsWith(".dll", StringComparison.Ordinal) || target.Contains(".so", StringComparison.Ordinal)) continue;
            d[Path.GetFileName(f)] = target;
        }
        return d;
    }

    /// <summary>How <paramref name="after"/> differs from <paramref name="before"/>, or null when it has the same fds.</summary>
    public static string? Difference(Dictionary<string, string> before, Dictionary<string, string> after)
    {
        var opened = after.Where(kv => !before.TryGetValue(kv.Key, out string? t) || t != kv.Value).Select(kv => $"{kv.Key}={kv.Value}").ToList();
        var closed = before.Where(kv => !after.TryGetValue(kv.Key, out string? t) || t != kv.Value).Select(kv => $"{kv.Key}={kv.Value}").ToList();
        if (opened.Count == 0 && closed.Count == 0) return null;
        return $"{before.Count} -> {after.Count} fds; opened [{string.Join(", ", opened)}], closed [{string.Join(", ", closed)}]";
    }

    /// <summary>Mappings of memfd files, without the runtime's own W^X code-heap memfds ("doublemapper").</summary>
    public static int MemfdMappings => File.ReadLines("/proc/self/maps")
        .Count(l => l.Contains("/memfd:", StringComparison.Ordinal) && !l.Contains("doublemapper", StringComparison.Ordinal));
}
