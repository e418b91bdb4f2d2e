using HotPath.Engine.Stats;

namespace HotPath.Engine.Memory;

/// <summary>
/// An immutable guest memory table: the regions of one SET_MEM_TABLE (or the set after ADD/REM_MEM_REG), sorted
/// by guest physical address, with the translation tables the datapath reads. It never changes after
/// construction; the control plane swaps whole tables while holding every vring's access lock.
/// It does not own the <see cref="MappedRegion"/>s: several tables may share them across ADD_MEM_REG.
/// </summary>
public sealed unsafe class GuestMemory : IDisposable
{
    /// <summary>Most regions a table may hold; advertised by GET_MAX_MEM_SLOTS (QEMU's own limit).</summary>
    public const int MaxRegions = 509;

    private readonly MappedRegion[] _regions;   // sorted by GuestPhysAddr
    // Struct-of-arrays translation table in native memory, padded to a multiple of 8 entries so vector
    // compares never read past the end; padding entries have first > last and match nothing.
    private ulong* _first;   // first gpa of region i
    private ulong* _last;    // last gpa of region i (inclusive)
    private long* _delta;    // host - gpa for region i
    private readonly int _count;
    private readonly int _padded;

    public int Count => _count;
    public IReadOnlyList<MappedRegion> Regions => _regions;

    /// <summary>
    /// What a buffer this table cannot translate is dropped for: <see cref="DropReason.BufferOutsideMemory"/> for a
    /// memory table; <see cref="DropReason.IotlbPermissionDenied"/> for an IOTLB permission view, whose bursts only
    /// run on chains every address of which the IOTLB maps (<see cref="Iommu.IotlbViews"/>). Read on failure only.
    /// </summary>
    public DropReason UnmappedReason { get; private init; } = DropReason.BufferOutsideMemory;

    /// <summary>
    /// The table descriptor tables (indirect tables) are read through: this one for a memory table; the readable
    /// view for an IOTLB write view (the device reads an RX chain's indirect table, it never writes it).
    /// </summary>
    public GuestMemory DescriptorTables => _tables ?? this;
    private GuestMemory? _tables;

    /// <summary>Sum of the region sizes.</summary>
    public ulong TotalSize { get; }

    /// <summary>One past the highest guest physical address (what a dirty log must cover).</summary>
    public ulong GuestPhysEnd { get; }

    /// <summary>
    /// A translation table without regions: sorted, non-overlapping ranges [first, last] translated by adding delta
    /// (an IOTLB view). It owns only its native arrays; the memory it points into belongs to the memory table.
    /// </summary>
    internal GuestMemory(ReadOnlySpan<ulong> first, ReadOnlySpan<ulong> last, ReadOnlySpan<long> delta, DropReason unmapped,
        GuestMemory? descriptorTables) : this(Array.Empty<MappedRegion>(), first.Length)
    {
        for (int i = 0; i < _padded; i++)
        {
            _first[i] = i < _count ? first[i] : ulong.MaxValue;
            _last[i] = i < _count ? last[i] : 0;
            _delta[i] = i < _count ? delta[i] : 0;
        }
        UnmappedReason = unmapped;
        _tables = descriptorTables;
    }

    /// <summary>Range <paramref name="i"/> (below <see cref="Count"/>): its first address, size and host delta.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void RangeAt(int i, out ulong first, out ulong span, out long delta)
    {
        Debug.Assert((uint)i < (uint)_count);
        // SAFETY: i < _count (callers pass an index FindRegion returned).
        first = _first[i];
        span = _last[i] - _first[i] + 1;
        delta = _delta[i];
    }

    /// <summary>The native arrays for <paramref name="count"/> entries, padded (filled by the calling constructor).</summary>
    private GuestMemory(MappedRegion[] regions, int count)
    {
        _regions = regions;
        _count = count;
        _padded = Math.Max(8, (_count + 7) & ~7);
        nuint bytes = (nuint)(_padded * sizeof(ulong));
        _first = (ulong*)NativeMemory.AlignedAlloc(bytes, 64);
        _last = (ulong*)NativeMemory.AlignedAlloc(bytes, 64);
        _delta = (long*)NativeMemory.AlignedAlloc(bytes, 64);
    }

    private GuestMemory(MappedRegion[] sorted) : this(sorted, sorted.Length)
    {
        ulong total = 0, end = 0;
        for (int i = 0; i < _padded; i++)
        {
            if (i < _count)
            {
                MappedRegion r = sorted[i];
                _first[i] = r.GuestPhysAddr;
                _last[i] = r.Descriptor.GuestPhysLast;
                _delta[i] = (long)((ulong)r.Host - r.GuestPhysAddr);
                total += r.Size;
                ulong regionEnd = r.Descriptor.GuestPhysLast == ulong.MaxValue ? ulong.MaxValue : r.Descriptor.GuestPhysLast + 1;
                end = Math.Max(end, regionEnd);
            }
            else
            {
                _first[i] = ulong.MaxValue;
                _last[i] = 0;
                _delta[i] = 0;
            }
        }
        TotalSize = total;
        GuestPhysEnd = end;
    }

    /// <summary>
    /// Builds a table from mapped regions after checking count and overlap (SECURITY.md case 5).
    /// The regions stay owned by the caller.
    /// </summary>
    public static MemoryError TryCreate(IReadOnlyList<MappedRegion> regions, out GuestMemory? table)
    {
        table = null;
        if (regions.Count == 0) return MemoryError.NoRegions;
        if (regions.Count > MaxRegions) return MemoryError.TooManyRegions;
        var sorted = regions.ToArray();
        Array.Sort(sorted, static (a, b) => a.GuestPhysAddr.CompareTo(b.GuestPhysAddr));
        for (int i = 0; i < sorted.Length; i++)
            for (int j = i + 1; j < sorted.Length; j++)
                if (sorted[i].Descriptor.Overlaps(sorted[j].Descriptor)) return MemoryError.Overlap;
        table = new GuestMemory(sorted);
        return MemoryError.None;
    }

    /// <summary>Index of the region holding <paramref name="gpa"/>, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int FindRegion(ulong gpa)
    {
        // Few regions is the common case (QEMU: 1-3, DPDK virtio-user: 1): a linear scan beats a search.
        if (_count <= 8)
        {
            for (int i = 0; i < _count; i++)
                if (gpa - _first[i] <= _last[i] - _first[i]) return i;   // one unsigned compare per region
            return -1;
        }
        return FindRegionBinary(gpa);
    }

    private int FindRegionBinary(ulong gpa)
    {
        int lo = 0, hi = _count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (gpa < _first[mid]) hi = mid - 1;
            else if (gpa > _last[mid]) lo = mid + 1;
            else return mid;
        }
        return -1;
    }

    /// <summary>
    /// Translates a guest physical address. Returns the host address and clamps <paramref name="len"/> to the
    /// bytes that are contiguous from there inside one region; null (and len 0) when gpa is not mapped.
    /// A buffer that crosses regions is translated piece by piece by calling this again at gpa+len.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* GpaToHost(ulong gpa, ref ulong len)
    {
        int i = FindRegion(gpa);
        if (i < 0)
        {
            len = 0;
            return null;
        }
        // SAFETY: i < _count, so the three arrays hold a real region; last - gpa cannot underflow.
        ulong contiguous = _last[i] - gpa;          // bytes after gpa, minus one (no overflow at 2^64-1)
        if (len != 0 && len - 1 > contiguous) len = contiguous + 1;
        return (byte*)((long)gpa + _delta[i]);
    }

    /// <summary>Host address of [gpa, gpa+len) when the whole range lies in one region; otherwise null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* GpaToHostExact(ulong gpa, ulong len)
    {
        ulong got = len;
        byte* p = GpaToHost(gpa, ref got);
        return got == len ? p : null;
    }

    /// <summary>
    /// Translates a frontend virtual address range (ring addresses from SET_VRING_ADDR). The whole range must lie
    /// inside one region; a ring that straddles two regions is refused (SECURITY.md case 6). Cold path.
    /// </summary>
    public byte* QvaToHost(ulong qva, ulong len)
    {
        foreach (MappedRegion r in _regions)
            if (r.ContainsUser(qva, len)) return r.Host + (qva - r.UserAddr);
        return null;
    }

    /// <summary>Guest physical address of a frontend virtual address, or ulong.MaxValue when unmapped.</summary>
    public ulong QvaToGpa(ulong qva)
    {
        foreach (MappedRegion r in _regions)
            if (r.ContainsUser(qva, 1)) return r.GuestPhysAddr + (qva - r.UserAddr);
        return ulong.MaxValue;
    }

    /// <summary>True when [host, host+len) lies inside one mapped region (used by tests and debug checks).</summary>
    public bool ContainsHost(byte* host, ulong len)
    {
        foreach (MappedRegion r in _regions)
        {
            ulong off = (ulong)(host - r.Host);
            if (host >= r.Host && off < r.Size && len <= r.Size - off) return true;
        }
        return false;
    }

    public void Dispose()
    {
        if (_first == null) return;
        NativeMemory.AlignedFree(_first);
        NativeMemory.AlignedFree(_last);
        NativeMemory.AlignedFree(_delta);
        _first = null;
        _last = null;
        _delta = null;
        Debug.Assert(_padded >= _count);
    }
}
