using System.Globalization;

namespace HotPath.Tests.Buffers;

/// <summary>One line of /proc/self/maps.</summary>
internal readonly record struct MapsEntry(ulong Start, ulong End, string Perms, string Path);

/// <summary>Reads this process's mappings, to check protections without touching memory.</summary>
internal static class ProcMaps
{
    /// <summary>A "Name:   123 kB" field of the /proc/self/smaps entry holding <paramref name="address"/>, in bytes.</summary>
    public static long SmapsBytes(ulong address, string field)
    {
        bool inEntry = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, null, out ulong start)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, null, out ulong end))
            {
                inEntry = address >= start && address < end;
                continue;
            }
            if (inEntry && line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(field.Length + 1).Trim().TrimEnd("kB").Trim()) * 1024;
        }
        throw new InvalidOperationException($"no smaps field {field} for 0x{address:x}");
    }

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
