using HotPath.Engine.Interop;

namespace HotPath.Frontend.Memory;

/// <summary>
/// The frontend's side of live-migration dirty logging: the shared log a backend marks (one bit per 4 KiB guest
/// page, bit page % 8 of byte page / 8), in a memfd sent with SET_LOG_BASE. Like QEMU's log sync, <see cref="Collect"/>
/// takes and clears the bits word by word with an atomic exchange, so a bit the backend sets meanwhile is never lost.
/// </summary>
public sealed unsafe class FrontendDirtyLog : IDisposable
{
    public const int PageShift = 12;

    private nint _map;

    /// <summary>A log covering guest physical addresses [0, <paramref name="guestPhysEnd"/>), rounded up to whole 64-page words.</summary>
    public FrontendDirtyLog(ulong guestPhysEnd)
    {
        ulong pages = (guestPhysEnd + (1UL << PageShift) - 1) >> PageShift;
        Size = ((pages + 63) / 64) * 8;
        Fd = LibC.MemfdCreate("hotpath-dirty-log", (long)Size);
        if (Fd < 0) throw new IOException($"memfd_create for the dirty log failed: {LibC.StrError(-Fd)}");
        _map = LibC.mmap(0, (nuint)Size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, Fd, 0);
        if (_map == LibC.MAP_FAILED)
        {
            int e = LibC.Errno;
            LibC.close(Fd);
            throw new IOException($"mmap of the dirty log failed: {LibC.StrError(e)}");
        }
    }

    /// <summary>The memfd (the frontend keeps it; SET_LOG_BASE sends a copy).</summary>
    public int Fd { get; private set; }

    /// <summary>Bytes of the log (SET_LOG_BASE's mmap_size).</summary>
    public ulong Size { get; }

    private ulong* Words => (ulong*)_map;

    /// <summary>True when the page holding <paramref name="gpa"/> is marked.</summary>
    public bool IsDirty(ulong gpa)
    {
        ulong page = gpa >> PageShift;
        return page / 64 < Size / 8 && (Volatile.Read(ref Words[page / 64]) & (1UL << (int)(page % 64))) != 0;
    }

    /// <summary>Pages marked now (without clearing).</summary>
    public int CountDirty()
    {
        int n = 0;
        for (ulong w = 0; w < Size / 8; w++) n += System.Numerics.BitOperations.PopCount(Volatile.Read(ref Words[w]));
        return n;
    }

    /// <summary>Takes and clears every marked page (atomic exchange per word); the page numbers go into <paramref name="into"/>.</summary>
    public void Collect(ISet<ulong> into)
    {
        for (ulong w = 0; w < Size / 8; w++)
        {
            if (Volatile.Read(ref Words[w]) == 0) continue;
            ulong bits = Interlocked.Exchange(ref Words[w], 0);
            while (bits != 0)
            {
                int b = System.Numerics.BitOperations.TrailingZeroCount(bits);
                into.Add(w * 64 + (ulong)b);
                bits &= bits - 1;
            }
        }
    }

    /// <summary>Clears every bit.</summary>
    public void Clear() => new Span<byte>((void*)_map, (int)Size).Clear();

    public void Dispose()
    {
        if (_map != 0) LibC.munmap(_map, (nuint)Size);
        _map = 0;
        if (Fd >= 0) LibC.close(Fd);
        Fd = -1;
    }
}
