using HotPath.Engine.Memory;

namespace HotPath.Engine.Logging;

/// <summary>
/// The live-migration dirty log (SET_LOG_BASE with LOG_SHMFD): one bit per 4 KiB guest page, bit <c>page % 8</c> of
/// byte <c>page / 8</c>, set atomically for every page the backend writes while VHOST_F_LOG_ALL is negotiated. The
/// frontend reads and clears bits concurrently, so every update is an atomic OR.
/// <para>Bits are set through naturally aligned 64-bit words of the mapping (little-endian: bit <c>8k + j</c> of a word
/// is bit j of its byte k, the spec's layout). The log may start at any byte of the mapping, so word 0 starts at
/// <see cref="Base"/> rounded down to 8 and bit <c>page</c> is bit <c>BitOffset + page</c> of that array. An aligned
/// word never crosses a page, so a word holding any byte of the log lies in a page that also holds a byte of the fd's
/// range: mapped and backed. ORing zero bits into the bytes around the log changes nothing.</para>
/// </summary>
public sealed unsafe class DirtyLog : IDisposable
{
    /// <summary>VHOST_LOG_PAGE: bytes of guest memory per log bit.</summary>
    public const int PageShift = 12;

    private readonly FdMapping _mapping;
    private readonly ulong* _words;
    private readonly int _bitOffset;
    private readonly ulong _pages;

    private DirtyLog(FdMapping mapping)
    {
        _mapping = mapping;
        _words = (ulong*)((nuint)mapping.Base & ~(nuint)7);
        _bitOffset = (int)((nuint)mapping.Base & 7) * 8;
        _pages = mapping.Size > ulong.MaxValue >> 3 ? ulong.MaxValue : mapping.Size << 3;
    }

    public byte* Base => _mapping.Base;

    /// <summary>The log's fd and where the log starts in it (a takeover hands both on).</summary>
    public int Fd => _mapping.Fd;
    public ulong MmapOffset => _mapping.Offset;

    /// <summary>Log size in bytes.</summary>
    public ulong Size => _mapping.Size;

    /// <summary>Guest pages the log covers (8 per byte).</summary>
    public ulong Pages => _pages;

    /// <summary>Guest physical bytes the log covers.</summary>
    public ulong CoveredBytes => _pages > ulong.MaxValue >> PageShift ? ulong.MaxValue : _pages << PageShift;

    /// <summary>
    /// Writes that reached past the end of the log (a frontend that sized it too small, or a log address it gave
    /// outside the log); their pages inside the log are still marked, the rest is counted here and dropped.
    /// </summary>
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

    /// <summary>
    /// Marks every page of [gpa, gpa+len) dirty, one atomic OR per 64-page word (DPDK's __vhost_log_write). DPDK drops
    /// a write whose end lies past the log; here the pages the log covers are marked and the write is counted in
    /// <see cref="OutOfRangeWrites"/>: marking more than needed is always safe for migration, marking less is not.
    /// Returns the pages marked (for the vring's <c>log_pages_marked</c> counter).
    /// </summary>
    public ulong MarkRange(ulong gpa, ulong len)
    {
        if (len == 0) return 0;
        ulong first = gpa >> PageShift;
        ulong end = gpa + (len - 1);
        ulong last = end < gpa ? ulong.MaxValue >> PageShift : end >> PageShift;   // wrapped: to the top, then clamped
        if (last >= _pages)
        {
            Interlocked.Increment(ref OutOfRangeWrites);
            if (first >= _pages) return 0;
            last = _pages - 1;
        }
        MarkPages(first, last);
        return last - first + 1;
    }

    /// <summary>Marks pages [first, last] (both inside the log) with one atomic OR per word they touch.</summary>
    private void MarkPages(ulong first, ulong last)
    {
        Debug.Assert(first <= last && last < _pages);
        ulong a = first + (ulong)_bitOffset, b = last + (ulong)_bitOffset;
        ulong wa = a >> 6, wb = b >> 6;
        for (ulong w = wa; w <= wb; w++)
        {
            ulong mask = ulong.MaxValue;
            if (w == wa) mask &= ulong.MaxValue << (int)(a & 63);
            if (w == wb) mask &= ulong.MaxValue >> (int)(63 - (b & 63));
            OrWord(w, mask);
        }
    }

    /// <summary>
    /// The word and bit of <paramref name="page"/> (see the class remarks); false, and the write counted, when the
    /// page lies past the log.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryLocate(ulong page, out ulong word, out ulong bit)
    {
        if (page >= _pages)
        {
            Interlocked.Increment(ref OutOfRangeWrites);
            word = bit = 0;
            return false;
        }
        ulong b = page + (ulong)_bitOffset;
        word = b >> 6;
        bit = 1UL << (int)(b & 63);
        return true;
    }

    /// <summary>
    /// ORs <paramref name="bits"/> into word <paramref name="word"/> (from <see cref="TryLocate"/>). Interlocked.Or
    /// is a full fence: every guest-memory store this thread made before it is visible before the bit is, so a
    /// frontend that reads the bit, clears it and copies the page copies our data (DPDK puts a release fence here).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void OrWord(ulong word, ulong bits)
    {
        // SAFETY: word came from TryLocate/MarkPages for a page < _pages, so it holds a byte of the log (class remarks).
        Interlocked.Or(ref _words[word], bits);
    }

    /// <summary>True when the bit of <paramref name="page"/> is set (tests and diagnostics).</summary>
    public bool IsDirty(ulong page) => page < _pages && (Base[page >> 3] & (1 << (int)(page & 7))) != 0;

    // ---- pinning, for writers outside the vring locks (the C API's hp_vhost_log_write) ----
    // Bursts log with their vring's access lock held, and the log is replaced with every lock held, so they need no
    // pin. An application thread may call hp_vhost_log_write at any moment: it pins the log, and Dispose waits for
    // pins to drain before unmapping. Dekker-style: the pinner increments then checks retired; Dispose sets retired
    // then reads the pin count; both with full fences, so at least one sees the other.

    private int _pins;
    private int _retired;

    /// <summary>Keeps the mapping alive until <see cref="Unpin"/>; false when the log is being released.</summary>
    public bool TryPin()
    {
        Interlocked.Increment(ref _pins);
        if (Volatile.Read(ref _retired) == 0) return true;
        Interlocked.Decrement(ref _pins);
        return false;
    }

    public void Unpin() => Interlocked.Decrement(ref _pins);

    /// <summary>Unmaps the log (and closes its fd) once no writer has it pinned.</summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _retired, 1);
        var spin = new SpinWait();
        while (Volatile.Read(ref _pins) != 0) spin.SpinOnce();
        _mapping.Dispose();
    }
}
