namespace HotPath.Fuzz.Split;

/// <summary>
/// Hands out guest-physical ranges from a list of segments, never overlapping a range still owned (a chain the device
/// has not consumed yet). A cursor moves forward and wraps, skipping owned ranges; null when nothing fits.
/// Deterministic: the same requests in the same order give the same addresses.
/// </summary>
internal sealed class Arena
{
    private readonly (ulong Start, ulong End)[] _segments;
    private readonly List<(ulong Start, ulong End, int Owner)> _owned = new();
    private int _seg;
    private ulong _cursor;

    public Arena(IEnumerable<(ulong Start, ulong End)> segments)
    {
        _segments = segments.ToArray();
        _cursor = _segments.Length > 0 ? _segments[0].Start : 0;
    }

    /// <summary><paramref name="len"/> bytes (at least 1 is reserved) at an address ≡ <paramref name="misalign"/> mod 64.</summary>
    public ulong? Alloc(ulong len, byte misalign, int owner)
    {
        ulong need = Math.Max(len, 1);
        for (int tries = 0; tries < 4 * _segments.Length + 64 && _segments.Length > 0; tries++)
        {
            (ulong start, ulong end) = _segments[_seg];
            ulong at = ((Math.Max(_cursor, start) + 63) & ~63UL) + (misalign & 63u);
            if (at + need > end)
            {
                _seg = (_seg + 1) % _segments.Length;
                _cursor = _segments[_seg].Start;
                continue;
            }
            var clash = _owned.FirstOrDefault(o => at < o.End && o.Start < at + need);
            if (clash.End != 0)
            {
                _cursor = clash.End;
                continue;
            }
            _owned.Add((at, at + need, owner));
            _cursor = at + need;
            return at;
        }
        return null;
    }

    /// <summary>Reserves exactly [gpa, gpa+len) when nothing owned overlaps it.</summary>
    public bool TryReserve(ulong gpa, ulong len, int owner)
    {
        ulong end = gpa + Math.Max(len, 1);
        if (_owned.Any(o => gpa < o.End && o.Start < end)) return false;
        _owned.Add((gpa, end, owner));
        return true;
    }

    public void Release(int owner) => _owned.RemoveAll(o => o.Owner == owner);
}
