using System.Globalization;

namespace HotPath.Tests.Buffers;

/// <summary>One line of /proc/self/maps.</summary>
internal readonly record struct MapsEntry(ulong Start, ulong End, string Perms, string Path);

/// <summary>Reads this process's mappings, to check protections without touching memory.</summary>
internal static class ProcMaps
{
    public static MapsEntry? Find(ulong address)
    {
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            string[] f = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            string[] range = f[0].Split('-');
            ulong start = ulong.Parse(range[0], NumberStyles.HexNumber);
            ulong end = ulong.Parse(range[1], NumberStyles.HexNumber);
            if (address >= start && address < end) return new MapsEntry(start, end, f[1], f.Length > 5 ? f[5].Trim() : "");
        }
        return null;
    }
}
