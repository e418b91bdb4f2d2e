namespace HotPath.Fuzz.Split;

/// <summary>
/// Where things go in a case's guest memory. Regions of 2 MiB from gpa 4 GiB, contiguous or with 2 MiB gaps.
/// Region 0 starts with the system area (rings, then the indirect-table area); the rest is the buffer arena, minus a
/// 64 KiB zone on each side of every region end (crossing buffers and crossing tables go there).
/// <para>Writable buffers never share memory with anything the device reads as structure (rings, indirect tables):
/// tables come from the table area, or from the first boundary's zone when the case has crossing tables (that zone
/// then holds no buffer). So a device write can change packet bytes, never a chain the same burst walks.</para>
/// </summary>
public sealed class SplitLayout
{
    public const ulong RegionSize = 2 << 20;
    public const ulong BaseGpa = 0x1_0000_0000;
    public const ulong SystemArea = 512 << 10;
    public const ulong TableAreaStart = 64 << 10;
    public const ulong Zone = 64 << 10;

    public int Regions { get; }
    public bool Contiguous { get; }
    public ulong Gap => Contiguous ? 0 : RegionSize;

    /// <summary>First gpa of region i.</summary>
    public ulong RegionStart(int i) => BaseGpa + (ulong)i * (RegionSize + Gap);
    public ulong RegionEnd(int i) => RegionStart(i) + RegionSize;
    public ulong MemoryEnd => RegionEnd(Regions - 1);

    /// <summary>Region ends followed directly by another region (contiguous layout only).</summary>
    public IReadOnlyList<ulong> Boundaries { get; }

    /// <summary>The boundary crossing indirect tables use (null when the case has none or there is no boundary).</summary>
    public ulong? TableBoundary { get; }

    /// <summary>Region ends a crossing buffer may straddle: inner boundaries (split in two pieces) or ends followed by
    /// a gap or nothing (partly unmapped).</summary>
    public IReadOnlyList<ulong> BufferEdges { get; }

    public SplitLayout(int regions, bool contiguous, bool crossingTables)
    {
        Regions = regions;
        Contiguous = contiguous;
        var b = new List<ulong>();
        if (contiguous) for (int i = 0; i + 1 < regions; i++) b.Add(RegionEnd(i));
        Boundaries = b;
        TableBoundary = crossingTables && b.Count > 0 ? b[0] : null;
        var edges = new List<ulong>();
        for (int i = 0; i < regions; i++)
            if (RegionEnd(i) != TableBoundary) edges.Add(RegionEnd(i));
        BufferEdges = edges;
    }

    /// <summary>The arena's segments: each region minus the system area and the zones at its ends.</summary>
    public IEnumerable<(ulong Start, ulong End)> ArenaSegments()
    {
        for (int i = 0; i < Regions; i++)
        {
            ulong start = RegionStart(i) + (i == 0 ? SystemArea : 0);
            if (i > 0 && Contiguous) start += Zone;   // the zone after the boundary below this region
            ulong end = RegionEnd(i) - Zone;
            if (end > start) yield return (start, end);
        }
    }

    /// <summary>Readable name of what lies at <paramref name="gpa"/> (for failure messages).</summary>
    public string Describe(ulong gpa, ulong txRing, ulong rxRing)
    {
        for (int i = 0; i < Regions; i++)
        {
            if (gpa < RegionStart(i) || gpa >= RegionEnd(i)) continue;
            ulong off = gpa - RegionStart(i);
            string where = i == 0 && off < TableAreaStart ? "ring area" : i == 0 && off < SystemArea ? "indirect-table area" : "buffer arena or zone";
            return $"region {i} + 0x{off:x}, {where}";
        }
        return "unmapped";
    }
}
