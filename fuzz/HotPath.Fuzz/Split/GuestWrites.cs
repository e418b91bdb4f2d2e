using HotPath.Frontend.Memory;

namespace HotPath.Fuzz.Split;

/// <summary>Writes into a <see cref="FrontendMemory"/> by guest physical address, the way a guest driver does.</summary>
internal static unsafe class GuestWrites
{
    /// <summary>Writes the mapped bytes of [gpa, gpa+src.Length); bytes that fall outside every region are skipped
    /// (a hostile buffer may lie partly outside memory).</summary>
    public static void Write(FrontendMemory mem, ulong gpa, ReadOnlySpan<byte> src)
    {
        while (!src.IsEmpty)
        {
            FrontendMemory.Region? r = RegionOf(mem, gpa);
            if (r == null)
            {
                // Skip to the next region start inside the range, if any.
                ulong next = mem.Regions.Where(x => x.GuestPhysAddr > gpa).Select(x => x.GuestPhysAddr).DefaultIfEmpty(ulong.MaxValue).Min();
                if (next == ulong.MaxValue || next - gpa >= (ulong)src.Length) return;
                src = src[(int)(next - gpa)..];
                gpa = next;
                continue;
            }
            int n = (int)Math.Min((ulong)src.Length, r.Size - (gpa - r.GuestPhysAddr));
            src[..n].CopyTo(new Span<byte>(r.Host + (gpa - r.GuestPhysAddr), n));
            src = src[n..];
            gpa += (ulong)n;
        }
    }

    public static void WriteU16(FrontendMemory mem, ulong gpa, ushort v) => Write(mem, gpa, BitConverter.GetBytes(v));

    /// <summary>Writes one 16-byte split descriptor.</summary>
    public static void WriteDesc(FrontendMemory mem, ulong gpa, ulong addr, uint len, ushort flags, ushort next)
    {
        Span<byte> d = stackalloc byte[16];
        BitConverter.TryWriteBytes(d, addr);
        BitConverter.TryWriteBytes(d[8..], len);
        BitConverter.TryWriteBytes(d[12..], flags);
        BitConverter.TryWriteBytes(d[14..], next);
        Write(mem, gpa, d);
    }

    public static ushort ReadU16(FrontendMemory mem, ulong gpa) => *(ushort*)mem.Host(gpa);

    private static FrontendMemory.Region? RegionOf(FrontendMemory mem, ulong gpa)
    {
        foreach (FrontendMemory.Region r in mem.Regions)
            if (gpa >= r.GuestPhysAddr && gpa - r.GuestPhysAddr < r.Size) return r;
        return null;
    }
}
