using HotPath.Engine.Memory;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// The guest memory region a burst translated into last: one subtract and two compares translate a buffer that lies
/// in it, which is nearly every buffer (guests have one to three regions). Lives in locals for one burst: the
/// memory table cannot change while the burst holds the access lock. Independent of the ring type.
/// </summary>
internal readonly unsafe struct RegionCache
{
    private readonly ulong _first;   // first gpa of the region
    private readonly ulong _span;    // its size (0: empty cache, matches nothing)
    private readonly long _delta;    // host - gpa

    private RegionCache(ulong first, ulong span, long delta)
    {
        _first = first;
        _span = span;
        _delta = delta;
    }

    /// <summary>Host address of [gpa, gpa+len) when it lies inside the cached region; null otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* Translate(ulong gpa, uint len)
    {
        ulong off = gpa - _first;
        // off < span and len <= span - off: the whole range is inside the region (no overflow: off < span).
        return off < _span && len <= _span - off ? (byte*)((long)gpa + _delta) : null;
    }

    /// <summary>The cache for the region holding <paramref name="gpa"/>, or an empty cache when it is unmapped.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static RegionCache For(GuestMemory mem, ulong gpa) => Find(mem, gpa);

    /// <summary>
    /// The refill of an inline fast path's cache: empty while one of <paramref name="vq"/>'s cold features in
    /// <paramref name="needsPieces"/> is on, so that every buffer of the burst misses and takes the slow path, which
    /// walks it into pieces for the cold work (see <see cref="ColdBurst"/>). A burst refills on a miss only (once, as
    /// a rule), so the fast path pays nothing for the check.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static RegionCache ForInline(Vring vq, int needsPieces, GuestMemory mem, ulong gpa) =>
        (vq.ColdFeatures & needsPieces) != 0 ? default : Find(mem, gpa);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static RegionCache Find(GuestMemory mem, ulong gpa)
    {
        int i = mem.FindRegion(gpa);
        if (i < 0) return default;
        mem.RangeAt(i, out ulong first, out ulong span, out long delta);
        return new RegionCache(first, span, delta);
    }
}
