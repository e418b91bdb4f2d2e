using HotPath.Engine.Interop;
using HotPath.Engine.Memory;

namespace HotPath.Frontend.Memory;

/// <summary>
/// Guest memory as a frontend owns it: one or more regions, each a memfd (optionally MFD_HUGETLB) mapped into this
/// process. Like DPDK's virtio-user, the region's user address (QVA) is this process's own virtual address.
/// A bump allocator hands out guest-physical ranges for rings and packet buffers.
/// </summary>
public sealed unsafe class FrontendMemory : IDisposable
{
    public sealed class Region
    {
        public required ulong GuestPhysAddr { get; init; }
        public required ulong Size { get; init; }
        public required byte* Host { get; init; }
        public required int Fd { get; init; }
        public required ulong MmapOffset { get; init; }
        public ulong UserAddr => (ulong)Host;
        public ulong Next;   // bump pointer (offset in region)
    }

    private readonly List<Region> _regions = new();
    public IReadOnlyList<Region> Regions => _regions;
    public bool Hugepages { get; }

    private FrontendMemory(bool hugepages) => Hugepages = hugepages;

    /// <summary>
    /// Creates guest memory with one region per entry of <paramref name="regionSizes"/>, placed at increasing guest
    /// physical addresses starting at <paramref name="baseGpa"/> with a gap between regions (so no two regions are
    /// contiguous in guest physical space). Sizes are rounded up to 2 MiB.
    /// </summary>
    public static FrontendMemory Create(IReadOnlyList<ulong> regionSizes, ulong baseGpa = 0x1_0000_0000, bool hugepages = false,
        ulong gap = 0x20_0000)
    {
        var mem = new FrontendMemory(hugepages);
        ulong gpa = baseGpa;
        try
        {
            foreach (ulong requested in regionSizes)
            {
                ulong size = (requested + 0x1F_FFFF) & ~0x1F_FFFFUL;
                mem._regions.Add(MapRegion(gpa, size, hugepages, mem._regions.Count));
                gpa += size + gap;
            }
        }
        catch
        {
            mem.Dispose();
            throw;
        }
        return mem;
    }

    /// <summary>One region of <paramref name="size"/> bytes.</summary>
    public static FrontendMemory Create(ulong size, bool hugepages = false) => Create(new[] { size }, hugepages: hugepages);

    private static Region MapRegion(ulong gpa, ulong size, bool hugepages, int n)
    {
        uint flags = LibC.MFD_CLOEXEC | LibC.MFD_ALLOW_SEALING | (hugepages ? LibC.MFD_HUGETLB : 0);
        int fd = LibC.MemfdCreate($"hotpath-guest-{n}", (long)size, flags);
        if (fd < 0) throw new IOException($"memfd_create for {size} bytes failed: {LibC.StrError(-fd)}");
        nint p = LibC.mmap(0, (nuint)size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_POPULATE, fd, 0);
        if (p == LibC.MAP_FAILED)
        {
            int e = LibC.Errno;
            LibC.close(fd);
            throw new IOException($"mmap of guest region failed: {LibC.StrError(e)}");
        }
        return new Region { GuestPhysAddr = gpa, Size = size, Host = (byte*)p, Fd = fd, MmapOffset = 0 };
    }

    /// <summary>Region descriptors as SET_MEM_TABLE sends them.</summary>
    public IEnumerable<RegionDescriptor> Descriptors =>
        _regions.Select(r => new RegionDescriptor(r.GuestPhysAddr, r.Size, r.UserAddr, r.MmapOffset));

    /// <summary>
    /// Allocates <paramref name="size"/> bytes aligned to <paramref name="align"/> in region <paramref name="region"/>
    /// (or the first region with room when -1). Returns the guest physical address; the memory is zeroed.
    /// </summary>
    public ulong Alloc(ulong size, ulong align = 64, int region = -1)
    {
        for (int i = 0; i < _regions.Count; i++)
        {
            if (region >= 0 && i != region) continue;
            Region r = _regions[i];
            ulong start = (r.Next + align - 1) & ~(align - 1);
            if (start + size <= r.Size)
            {
                r.Next = start + size;
                new Span<byte>(r.Host + start, checked((int)size)).Clear();
                return r.GuestPhysAddr + start;
            }
        }
        throw new OutOfMemoryException($"guest memory exhausted allocating {size} bytes");
    }

    /// <summary>Host pointer of a guest physical address (must be mapped).</summary>
    public byte* Host(ulong gpa)
    {
        foreach (Region r in _regions)
            if (gpa >= r.GuestPhysAddr && gpa - r.GuestPhysAddr < r.Size) return r.Host + (gpa - r.GuestPhysAddr);
        throw new ArgumentOutOfRangeException(nameof(gpa), $"gpa 0x{gpa:x} is not in guest memory");
    }

    /// <summary>The frontend virtual address (QVA) of a guest physical address, as SET_VRING_ADDR carries it.</summary>
    public ulong UserAddr(ulong gpa) => (ulong)Host(gpa);

    /// <summary>Guest physical address of a host pointer inside guest memory.</summary>
    public ulong GuestPhys(byte* host)
    {
        foreach (Region r in _regions)
            if (host >= r.Host && (ulong)(host - r.Host) < r.Size) return r.GuestPhysAddr + (ulong)(host - r.Host);
        throw new ArgumentOutOfRangeException(nameof(host), "pointer is not in guest memory");
    }

    /// <summary>Frees every allocation (the rings and buffers are rebuilt from scratch).</summary>
    public void ResetAllocations()
    {
        foreach (Region r in _regions) r.Next = 0;
    }

    public void Dispose()
    {
        foreach (Region r in _regions)
        {
            LibC.munmap((nint)r.Host, (nuint)r.Size);
            LibC.close(r.Fd);
        }
        _regions.Clear();
    }
}
