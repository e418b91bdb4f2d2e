using HotPath.Frontend.Memory;

namespace HotPath.Frontend.Rings;

/// <summary>
/// The guest buffers a ring driver owns: one buffer of <see cref="BufferSize"/> bytes per descriptor id, allocated
/// once, each fenced by guard bytes (a known pattern) so tests can prove the device never wrote outside a
/// buffer; optionally one extra buffer placed across the boundary between two guest-physically contiguous
/// regions (memory created with gap 0), to exercise region splitting.
/// </summary>
public sealed unsafe class DescriptorBuffers
{
    public const int GuardBytes = 64;
    public const byte GuardPattern = 0xA5;

    private readonly FrontendMemory _mem;
    private readonly ulong _baseGpa;
    private readonly byte* _baseHost;
    private readonly ulong _stride;

    public uint Count { get; }
    public uint BufferSize { get; }

    /// <summary>Guest physical address of the region-crossing buffer, or 0 when the memory has no contiguous regions.</summary>
    public ulong CrossingGpa { get; }
    /// <summary>Bytes of the crossing buffer that lie in the first region (the rest is in the next one).</summary>
    public ulong CrossingSplit { get; }

    public DescriptorBuffers(FrontendMemory mem, uint count, uint bufferSize, int region = -1, bool crossing = false)
    {
        _mem = mem;
        Count = count;
        BufferSize = bufferSize;
        _stride = ((ulong)bufferSize + GuardBytes + 63) & ~63UL;
        ulong total = _stride * count + GuardBytes;
        _baseGpa = mem.Alloc(total, 4096, region);
        _baseHost = mem.Host(_baseGpa);
        new Span<byte>(_baseHost, checked((int)total)).Fill(GuardPattern);
        for (uint i = 0; i < count; i++) new Span<byte>(Host(i), (int)bufferSize).Clear();
        if (crossing) (CrossingGpa, CrossingSplit) = AllocCrossing(mem, bufferSize);
    }

    /// <summary>Guest physical address of descriptor <paramref name="id"/>'s buffer.</summary>
    public ulong Gpa(uint id) => _baseGpa + GuardBytes + id * _stride;

    /// <summary>Host pointer to descriptor <paramref name="id"/>'s buffer.</summary>
    public byte* Host(uint id) => _baseHost + GuardBytes + id * _stride;

    /// <summary>True when every guard byte around every buffer still holds the pattern.</summary>
    public bool GuardsIntact()
    {
        for (uint i = 0; i <= Count; i++)
        {
            byte* g = i == 0 ? _baseHost : Host(i - 1) + BufferSize;
            ulong len = i == 0 ? GuardBytes : _stride - BufferSize;
            if (new ReadOnlySpan<byte>(g, (int)len).IndexOfAnyExcept(GuardPattern) >= 0) return false;
        }
        return true;
    }

    /// <summary>
    /// Places a buffer of <paramref name="size"/> bytes so that its first half ends a region and its second half
    /// starts the next region, which must follow at the very next guest physical address.
    /// </summary>
    private static (ulong Gpa, ulong Split) AllocCrossing(FrontendMemory mem, uint size)
    {
        var regions = mem.Regions;
        for (int i = 0; i + 1 < regions.Count; i++)
        {
            FrontendMemory.Region a = regions[i], b = regions[i + 1];
            ulong half = size / 2;
            if (a.GuestPhysAddr + a.Size != b.GuestPhysAddr || b.Next != 0 || a.Size - a.Next < half) continue;
            ulong tail = a.Size - half;
            a.Next = tail;                          // skip to the last `half` bytes of region a
            ulong first = mem.Alloc(half, 1, i);
            ulong second = mem.Alloc(size - half, 1, i + 1);
            if (first + half != second) throw new InvalidOperationException("crossing buffer halves are not contiguous");
            return (first, half);
        }
        throw new InvalidOperationException("no two guest-physically contiguous regions with room for a crossing buffer (create the memory with gap 0)");
    }

    /// <summary>Copies <paramref name="src"/> into guest memory at <paramref name="gpa"/>, region by region.</summary>
    public void Write(ulong gpa, ReadOnlySpan<byte> src)
    {
        while (!src.IsEmpty)
        {
            int n = ContiguousAt(gpa, src.Length);
            src[..n].CopyTo(new Span<byte>(_mem.Host(gpa), n));
            src = src[n..];
            gpa += (ulong)n;
        }
    }

    /// <summary>Copies guest memory at <paramref name="gpa"/> into <paramref name="dst"/>, region by region.</summary>
    public void Read(ulong gpa, Span<byte> dst)
    {
        while (!dst.IsEmpty)
        {
            int n = ContiguousAt(gpa, dst.Length);
            new ReadOnlySpan<byte>(_mem.Host(gpa), n).CopyTo(dst);
            dst = dst[n..];
            gpa += (ulong)n;
        }
    }

    private int ContiguousAt(ulong gpa, int want)
    {
        IReadOnlyList<FrontendMemory.Region> regions = _mem.Regions;
        for (int i = 0; i < regions.Count; i++)   // indexed: no enumerator allocation per packet
        {
            FrontendMemory.Region r = regions[i];
            if (gpa >= r.GuestPhysAddr && gpa - r.GuestPhysAddr < r.Size)
                return (int)Math.Min((ulong)want, r.Size - (gpa - r.GuestPhysAddr));
        }
        throw new ArgumentOutOfRangeException(nameof(gpa), $"gpa 0x{gpa:x} is not in guest memory");
    }
}
