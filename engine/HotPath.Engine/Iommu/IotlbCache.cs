namespace HotPath.Engine.Iommu;

/// <summary>
/// The IOTLB of one device (what the frontend's IOTLB_MSG UPDATE and INVALIDATE messages built): sorted,
/// non-overlapping mappings, looked up by binary search, at most <see cref="MaxEntries"/> of them. An update replaces
/// whatever it overlaps; an invalidation removes exactly its range, splitting the mappings it covers only in part.
/// When an update would pass the limit, a mapping at a rotating position is evicted (a split drops its tail; the device
/// asks for it again with a miss if it needs it), so a frontend cannot make the cache grow without bound.
/// Control-plane only: the datapath reads the <see cref="IotlbViews"/> built from it.
/// </summary>
public sealed class IotlbCache
{
    /// <summary>Most mappings the cache holds (DPDK's IOTLB_CACHE_SIZE).</summary>
    public const int MaxEntries = 2048;

    private readonly List<IotlbEntry> _entries = new();
    private int _evictCursor;

    /// <summary>Mappings in the cache.</summary>
    public int Count => _entries.Count;

    /// <summary>Mappings evicted to keep the cache within <see cref="MaxEntries"/>.</summary>
    public long Evictions { get; private set; }

    /// <summary>The mappings, sorted by IOVA.</summary>
    public IReadOnlyList<IotlbEntry> Entries => _entries;

    /// <summary>Adds a mapping (validated by the caller: size &gt; 0, no wrap-around, perm 1..3).</summary>
    public void Insert(IotlbEntry e)
    {
        Debug.Assert(e.Size != 0 && e.Iova <= e.Last && e.Perm is >= 1 and <= 3);
        Remove(e.Iova, e.Last);
        while (_entries.Count >= MaxEntries) Evict();
        _entries.Insert(LowerBound(e.Iova), e);
    }

    /// <summary>Removes every byte of [first, last] from the cache; returns how many mappings it touched.</summary>
    public int Remove(ulong first, ulong last)
    {
        int i = LowerBound(first);
        if (i > 0 && _entries[i - 1].Last >= first) i--;   // the mapping before may reach into the range
        int touched = 0;
        while (i < _entries.Count && _entries[i].Iova <= last)
        {
            IotlbEntry e = _entries[i];
            touched++;
            bool keepHead = e.Iova < first, keepTail = e.Last > last;
            if (keepHead && keepTail)
            {
                // The range is inside this mapping: split it in two (which needs room for one more).
                _entries[i] = e with { Size = first - e.Iova };
                var tail = new IotlbEntry(last + 1, e.Last - last, e.UserAddr + (last + 1 - e.Iova), e.Perm);
                if (_entries.Count >= MaxEntries)
                {
                    Evictions++;   // the tail is dropped rather than another mapping: the cache stays within bounds
                    return touched;
                }
                _entries.Insert(i + 1, tail);
                return touched;
            }
            if (keepHead)
            {
                _entries[i] = e with { Size = first - e.Iova };
                i++;
            }
            else if (keepTail)
            {
                _entries[i] = new IotlbEntry(last + 1, e.Last - last, e.UserAddr + (last + 1 - e.Iova), e.Perm);
                return touched;
            }
            else _entries.RemoveAt(i);
        }
        return touched;
    }

    /// <summary>Drops every mapping (a new memory table: the frontend virtual addresses may mean other memory now).</summary>
    public void Clear() => _entries.Clear();

    /// <summary>Index of the mapping holding <paramref name="iova"/>, or -1.</summary>
    public int Find(ulong iova)
    {
        int i = LowerBound(iova);
        if (i < _entries.Count && _entries[i].Iova == iova) return i;
        return i > 0 && _entries[i - 1].Last >= iova ? i - 1 : -1;
    }

    /// <summary>
    /// Translates [iova, iova+len) to one contiguous range of frontend virtual addresses with at least
    /// <paramref name="perm"/>: across adjacent mappings when their user addresses continue each other.
    /// <see cref="IotlbLookup.Miss"/> names in <paramref name="missIova"/> the first byte no mapping holds.
    /// </summary>
    public IotlbLookup Translate(ulong iova, ulong len, byte perm, out ulong userAddr, out ulong missIova)
    {
        userAddr = 0;
        missIova = iova;
        if (len == 0 || iova > ulong.MaxValue - (len - 1)) return IotlbLookup.NotContiguous;
        ulong last = iova + (len - 1), at = iova, expectUser = 0;
        int i = Find(iova);
        while (true)
        {
            if (i < 0 || i >= _entries.Count || _entries[i].Iova > at || _entries[i].Last < at)
            {
                missIova = at;
                return IotlbLookup.Miss;
            }
            IotlbEntry e = _entries[i];
            if ((e.Perm & perm) != perm) return IotlbLookup.Denied;
            ulong user = e.UserAddr + (at - e.Iova);
            if (at == iova) userAddr = user;
            else if (user != expectUser) return IotlbLookup.NotContiguous;
            if (e.Last >= last) return IotlbLookup.Hit;
            expectUser = user + (e.Last - at + 1);
            at = e.Last + 1;
            i++;
        }
    }

    private void Evict()
    {
        // A rotating position: cheap, and no frontend-chosen pattern keeps one mapping in for ever.
        _evictCursor = (_evictCursor + 1) % _entries.Count;
        _entries.RemoveAt(_evictCursor);
        Evictions++;
    }

    /// <summary>First index whose IOVA is &gt;= <paramref name="iova"/>.</summary>
    private int LowerBound(ulong iova)
    {
        int lo = 0, hi = _entries.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_entries[mid].Iova < iova) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}

/// <summary>What an IOTLB lookup of a range found.</summary>
public enum IotlbLookup
{
    Hit,
    /// <summary>Some byte has no mapping: ask the frontend (IOTLB miss).</summary>
    Miss,
    /// <summary>Mapped, but without the access asked for.</summary>
    Denied,
    /// <summary>Mapped, but not to one contiguous range of frontend virtual addresses (or the range wraps).</summary>
    NotContiguous,
}
