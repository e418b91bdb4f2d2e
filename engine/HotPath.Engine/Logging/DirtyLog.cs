using System.Runtime.CompilerServices;
using HotPath.Engine.Memory;

namespace HotPath.Engine.Logging;

/// <summary>
/// The live-migration dirty log (SET_LOG_BASE with LOG_SHMFD): one bit per 4 KiB guest page, set atomically for
/// every page the backend writes while VHOST_F_LOG_ALL is negotiated. The frontend reads and clears it.
/// </summary>
public sealed unsafe class DirtyLog : IDisposable
{
    /// <summary>VHOST_LOG_PAGE: bytes of guest memory per log bit.</summary>
    public const int PageShift = 12;

    private readonly FdMapping _mapping;

    private DirtyLog(FdMapping mapping) => _mapping = mapping;

    public byte* Base => _mapping.Base;

    /// <summary>Log size in bytes.</summary>
    public ulong Size => _mapping.Size;

    /// <summary>Guest physical bytes the log covers (8 pages per byte).</summary>
    public ulong CoveredBytes => Size > ulong.MaxValue >> (PageShift + 3) ? ulong.MaxValue : Size << (PageShift + 3);

    /// <summary>Writes past the end of the log (a frontend that sized it too small); counted, never written.</summary>
    public long OutOfRangeWrites;

    /// <summary>Maps the log. On success it owns <paramref name="fd"/>.</summary>
    public static MemoryError TryMap(int fd, ulong size, ulong offset, out DirtyLog? log)
    {
        log = null;
        MemoryError e = FdMapping.TryMap(fd, size, offset, out FdMapping? m);
        if (e != MemoryError.None) return e;
        log = new DirtyLog(m!);
        return MemoryError.None;
    }

    /// <summary>Marks every page of [gpa, gpa+len) dirty. Pages beyond the log are counted, not written.</summary>
    public void MarkRange(ulong gpa, ulong len)
    {
        if (len == 0) return;
        ulong first = gpa >> PageShift;
        ulong last = (gpa + (len - 1)) >> PageShift;
        if (gpa + (len - 1) < gpa) last = ulong.MaxValue >> PageShift;   // wrapped: clamp, the tail is out of range anyway
        for (ulong page = first; page <= last; page++) MarkPage(page);
    }

    /// <summary>Sets the bit of one page with an atomic OR (the frontend clears bits concurrently).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MarkPage(ulong page)
    {
        ulong byteIndex = page >> 3;
        if (byteIndex >= Size)
        {
            Interlocked.Increment(ref OutOfRangeWrites);
            return;
        }
        // SAFETY: byteIndex < Size. The 32-bit word holding that byte starts at most 3 bytes earlier, inside the
        // page-aligned mapping; OR-ing zero bits into the neighbouring bytes leaves them unchanged.
        byte* p = Base + byteIndex;
        uint* word = (uint*)((nuint)p & ~(nuint)3);
        int shift = (int)((nuint)p & 3) * 8 + (int)(page & 7);
        Interlocked.Or(ref *word, 1u << shift);
    }

    /// <summary>True when the bit of <paramref name="page"/> is set (tests and diagnostics).</summary>
    public bool IsDirty(ulong page) => (page >> 3) < Size && (Base[page >> 3] & (1 << (int)(page & 7))) != 0;

    public void Dispose() => _mapping.Dispose();
}
