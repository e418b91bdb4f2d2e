using HotPath.Engine.Memory;
using HotPath.Engine.Stats;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Turns one guest buffer (gpa, len) into host pieces. A buffer that crosses memory regions becomes one piece per
/// region, each translated on its own (SECURITY.md 13): a partial translation is never used as if it were whole.
/// Shared by every ring type.
/// </summary>
internal static unsafe class GuestPieces
{
    /// <summary>
    /// Appends the pieces of [gpa, gpa+len) to <paramref name="vec"/>. Zero-length buffers add nothing and are
    /// accepted (their address is never looked at). Fails when any byte is unmapped, the range wraps around, or
    /// the vector is full.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Add(GuestMemory mem, ulong gpa, uint len, BufPiece* vec, int cap, ref int n)
    {
        if (len == 0) return DropReason.None;
        ulong got = len;
        byte* h = mem.GpaToHost(gpa, ref got);
        if (h != null && got == len && n < cap)
        {
            // SAFETY: n < cap; [h, h+len) lies inside one mapped region (GpaToHost did not clamp).
            vec[n++] = new BufPiece(h, gpa, len);
            return DropReason.None;
        }
        return AddSplit(mem, gpa, len, vec, cap, ref n);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason AddSplit(GuestMemory mem, ulong gpa, uint len, BufPiece* vec, int cap, ref int n)
    {
        if (gpa > ulong.MaxValue - (len - 1)) return DropReason.BufferOutsideMemory;   // range wraps around u64
        ulong remain = len;
        while (remain != 0)
        {
            ulong got = remain;
            byte* h = mem.GpaToHost(gpa, ref got);
            if (h == null) return mem.UnmappedReason;
            if (n >= cap) return DropReason.TooManySegments;
            // SAFETY: n < cap; GpaToHost clamped got to the bytes contiguous inside one region.
            vec[n++] = new BufPiece(h, gpa, (uint)got);
            gpa += got;
            remain -= got;
        }
        return DropReason.None;
    }

    /// <summary>
    /// Checks that every byte of [gpa, gpa+len) (len &gt; 0) is mapped, storing nothing; <paramref name="last"/> is the
    /// host address of its last byte.
    /// </summary>
    public static DropReason Check(GuestMemory mem, ulong gpa, uint len, out byte* last)
    {
        last = null;
        if (gpa > ulong.MaxValue - (len - 1)) return DropReason.BufferOutsideMemory;   // range wraps around u64
        ulong remain = len;
        while (remain != 0)
        {
            ulong got = remain;
            byte* h = mem.GpaToHost(gpa, ref got);
            if (h == null) return mem.UnmappedReason;
            // SAFETY: GpaToHost mapped got (> 0) bytes from h inside one region.
            last = h + (got - 1);
            gpa += got;
            remain -= got;
        }
        return DropReason.None;
    }
}
