namespace HotPath.Engine.Rings;

/// <summary>
/// Managed owner of a native <see cref="RingHeader"/> ring for C# callers; the hot-path calls are thin spans over
/// <see cref="RingOps"/> and allocate nothing.
/// </summary>
public sealed unsafe class Ring : IDisposable
{
    private RingHeader* _ring;

    private Ring(RingHeader* ring) => _ring = ring;

    /// <summary>Creates a ring of <paramref name="count"/> slots (a power of two; it holds count - 1 objects).
    /// Throws <see cref="ArgumentException"/> with the reason on bad arguments, <see cref="OutOfMemoryException"/>
    /// when the memory cannot be mapped.</summary>
    public static Ring Create(string name, uint count, RingFlags flags = RingFlags.None)
    {
        string? bad = RingOps.Validate(name, count, flags);
        if (bad != null) throw new ArgumentException(bad);
        RingHeader* r = RingOps.Create(name, count, flags, out string? error);
        if (r == null) throw new OutOfMemoryException(error);
        return new Ring(r);
    }

    /// <summary>The C handle (<c>struct hp_ring *</c>).</summary>
    public RingHeader* Header => _ring != null ? _ring : throw new ObjectDisposedException(nameof(Ring));

    public string Name => RingOps.Name(Header);
    public uint Capacity => RingOps.Capacity(Header);
    public uint Count => RingOps.Count(Header);
    public uint FreeCount => RingOps.FreeCount(Header);

    public uint EnqueueBurst(ReadOnlySpan<nint> objs, out uint freeSpace)
    {
        uint free;
        uint n;
        fixed (nint* p = objs) n = RingOps.EnqueueBurst(Header, (void**)p, (uint)objs.Length, &free);
        freeSpace = free;
        return n;
    }

    public uint EnqueueBurst(ReadOnlySpan<nint> objs)
    {
        fixed (nint* p = objs) return RingOps.EnqueueBurst(Header, (void**)p, (uint)objs.Length, null);
    }

    public uint DequeueBurst(Span<nint> objs, out uint available)
    {
        uint avail;
        uint n;
        fixed (nint* p = objs) n = RingOps.DequeueBurst(Header, (void**)p, (uint)objs.Length, &avail);
        available = avail;
        return n;
    }

    public uint DequeueBurst(Span<nint> objs)
    {
        fixed (nint* p = objs) return RingOps.DequeueBurst(Header, (void**)p, (uint)objs.Length, null);
    }

    public void Dispose()
    {
        RingOps.Free(_ring);
        _ring = null;
    }
}
