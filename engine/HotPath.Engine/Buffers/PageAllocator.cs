using HotPath.Engine.Interop;

namespace HotPath.Engine.Buffers;

/// <summary>
/// The one place pools and rings get native memory from: anonymous mmap, on 2 MiB hugepages (MAP_HUGETLB) or normal
/// pages. With <see cref="GuardPages"/> on, every block sits between two PROT_NONE pages and is right-aligned against
/// the trailing one, so a write past the end of an object area or a ring faults on its first byte (electric-fence
/// style; an underrun is caught only past the slack before <see cref="PageBlock.Base"/>).
/// </summary>
public static unsafe class PageAllocator
{
    public const nuint PageSize = 4096;
    public const nuint HugePageSize = 2u << 20;

    /// <summary>Surround every new block with PROT_NONE guard pages. Off by default; on when the environment has
    /// HOTPATH_GUARD_PAGES=1. Tests turn it on. Affects blocks allocated after the change only.</summary>
    public static bool GuardPages { get; set; } = Environment.GetEnvironmentVariable("HOTPATH_GUARD_PAGES") == "1";

    /// <summary>Test seam: when non-zero, the calling thread's next hugepage mappings fail with this errno (so the
    /// fallback to normal pages can be tested without exhausting the machine's hugepages).</summary>
    [ThreadStatic] internal static int t_failHugepagesWithErrno;

    /// <summary>
    /// Maps at least <paramref name="length"/> usable bytes, on hugepages when <paramref name="huge"/>.
    /// <paramref name="populate"/> faults every page in now (MAP_POPULATE), so the datapath never takes a first-touch
    /// fault (for a hugepage, zeroing 2 MiB). Returns 0 and the block, or -errno (nothing stays mapped). The bytes
    /// read as zero.
    /// </summary>
    public static int TryAllocate(nuint length, bool huge, bool populate, out PageBlock block)
    {
        block = default;
        if (length == 0 || length > (nuint)1 << 46) return -LibC.EINVAL;
        if (huge && t_failHugepagesWithErrno != 0) return -t_failHugepagesWithErrno;
        nuint usable = AlignUp(length, 64);
        nuint granule = huge ? HugePageSize : PageSize;
        nuint mapLength = AlignUp(usable, granule);
        int flags = LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | (huge ? LibC.MAP_HUGETLB : 0) | (populate ? LibC.MAP_POPULATE : 0);
        bool guarded = GuardPages;

        nint reserve = 0;
        nuint reserveLength = mapLength;
        nint map;
        if (!guarded)
        {
            map = LibC.mmap(0, mapLength, LibC.PROT_READ | LibC.PROT_WRITE, flags, -1, 0);
            if (map == LibC.MAP_FAILED) return -LibC.Errno;
            reserve = map;
        }
        else
        {
            // Reserve guard + (alignment slack) + mapping + guard as PROT_NONE, then map the usable part over the
            // middle with MAP_FIXED. Everything of the reservation that is not the mapping stays PROT_NONE.
            reserveLength = PageSize + (granule - PageSize) + mapLength + PageSize;
            reserve = LibC.mmap(0, reserveLength, LibC.PROT_NONE,
                LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1, 0);
            if (reserve == LibC.MAP_FAILED) return -LibC.Errno;
            nint start = (nint)AlignUp((nuint)reserve + PageSize, granule);
            Debug.Assert((nuint)(start + (nint)mapLength + (nint)PageSize) <= (nuint)reserve + reserveLength);
            map = LibC.mmap(start, mapLength, LibC.PROT_READ | LibC.PROT_WRITE, flags | LibC.MAP_FIXED, -1, 0);
            if (map == LibC.MAP_FAILED)
            {
                int e = LibC.Errno;
                LibC.munmap(reserve, reserveLength);
                return -e;
            }
        }

        block.MapBase = (byte*)map;
        block.MapLength = mapLength;
        block.ReserveBase = (byte*)reserve;
        block.ReserveLength = reserveLength;
        block.Length = usable;
        // Right-align against the trailing guard when guarded; usable is a multiple of 64, so Base stays 64-aligned.
        block.Base = guarded ? (byte*)map + (mapLength - usable) : (byte*)map;
        block.Huge = huge ? (byte)1 : (byte)0;
        block.Guarded = guarded ? (byte)1 : (byte)0;
        return 0;
    }

    /// <summary>Unmaps the block (mapping and guards). An empty block is a no-op.</summary>
    public static void Free(ref PageBlock block)
    {
        if (block.IsEmpty) return;
        int rc;
        if (block.ReserveBase != block.MapBase)
        {
            // The guard parts around the mapping go first, then the mapping: never munmap a range that contains a
            // hole we already freed, or another thread's mmap that landed in that hole would be unmapped with it.
            byte* mapEnd = block.MapBase + block.MapLength;
            byte* reserveEnd = block.ReserveBase + block.ReserveLength;
            if (block.MapBase > block.ReserveBase)
            {
                rc = LibC.munmap((nint)block.ReserveBase, (nuint)(block.MapBase - block.ReserveBase));
                Debug.Assert(rc == 0, "munmap of a PageBlock leading guard failed");
            }
            if (reserveEnd > mapEnd)
            {
                rc = LibC.munmap((nint)mapEnd, (nuint)(reserveEnd - mapEnd));
                Debug.Assert(rc == 0, "munmap of a PageBlock trailing guard failed");
            }
        }
        // The hugetlb mapping is unmapped on its own: munmap of hugetlb memory wants 2 MiB-aligned bounds.
        rc = LibC.munmap((nint)block.MapBase, block.MapLength);
        Debug.Assert(rc == 0, "munmap of a PageBlock mapping failed");
        block = default;
    }

    /// <summary>HugePages_Free from /proc/meminfo, or -1 when it cannot be read (cold path, for error texts).</summary>
    public static long FreeHugepages()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("HugePages_Free:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(15).Trim());
        }
        catch (IOException)
        {
        }
        return -1;
    }

    public static nuint AlignUp(nuint value, nuint alignment)
    {
        Debug.Assert((alignment & (alignment - 1)) == 0);
        return (value + alignment - 1) & ~(alignment - 1);
    }
}
