using HotPath.Engine.Interop;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// SECURITY.md case 5 (and the SET_MEM_TABLE half of case 2): memory tables a backend must refuse. Each region
/// comes with a real memfd (sparse, never mapped here) of the size the case calls for.
/// </summary>
public static class HostileMemoryTables
{
    private const int TableCase = 5, FdCase = 2;

    /// <summary>Every region of these tables is 2 MiB unless the case is about sizes.</summary>
    public const ulong RegionSize = 2 << 20;

    /// <summary>Guest-physical base of the first region.</summary>
    public const ulong BaseGpa = 0x1_0000_0000;

    /// <summary>A made-up frontend address (QVA) for the first region; the backend only uses it to translate.</summary>
    public const ulong BaseQva = 0x7f00_0000_0000;

    /// <summary>
    /// Region <paramref name="i"/> of a plausible table: 2 MiB, gpa and QVA 4 MiB apart, offset 0.
    /// </summary>
    public static MemoryRegionPayload Region(int i, ulong size = RegionSize) => new()
    {
        GuestPhysAddr = BaseGpa + (ulong)i * 2 * RegionSize,
        MemorySize = size,
        UserspaceAddr = BaseQva + (ulong)i * 2 * RegionSize,
        MmapOffset = 0,
    };

    /// <summary>
    /// A SET_MEM_TABLE of <paramref name="regions"/> with one memfd of <paramref name="fdSize"/> bytes per fd
    /// (<paramref name="fdCount"/> of them, default one per region).
    /// </summary>
    public static HostileMessage Table(string name, MemoryRegionPayload[] regions, int? fdCount = null, ulong fdSize = RegionSize,
        uint? declaredRegions = null, int securityCase = TableCase) =>
        HostileMessage.Honest(name, securityCase, FrontendRequest.SetMemTable,
            FrontendPayloads.MemTable(regions, declaredRegions), HostileFds.Memfds(fdCount ?? regions.Length, fdSize));

    /// <summary>One region whose fd cannot be mapped as guest memory (issue 11): <paramref name="kind"/> is "pipe",
    /// "socket" or "eventfd".</summary>
    public static HostileMessage UnmappableFd(string kind)
    {
        int fd, readEnd = -1;
        switch (kind)
        {
            case "pipe": fd = HostileFds.Make(HostileFds.NotEventFd.Pipe, out readEnd); break;
            case "socket": fd = HostileFds.Make(HostileFds.NotEventFd.Socket, out _); break;
            case "eventfd": fd = HostileFds.EventFd(); break;
            default: throw new ArgumentException(kind, nameof(kind));
        }
        if (readEnd >= 0) LibC.close(readEnd);   // refused before anything is read or written
        return HostileMessage.Honest($"SET_MEM_TABLE with a {kind} as region fd", TableCase, FrontendRequest.SetMemTable,
            FrontendPayloads.MemTable([Region(0)], null), [fd]);
    }

    /// <summary>SIGBUS class: one valid region whose memfd was made without MFD_ALLOW_SEALING (it can never be sealed).</summary>
    public static HostileMessage UnsealableMemfd() =>
        HostileMessage.Honest("SET_MEM_TABLE with a memfd that cannot be sealed", TableCase, FrontendRequest.SetMemTable,
            FrontendPayloads.MemTable([Region(0)], null), [HostileFds.Memfd(RegionSize, sealable: false)]);

    public static HostileMessage NoRegions() => Table("SET_MEM_TABLE with 0 regions", Array.Empty<MemoryRegionPayload>());

    /// <summary><paramref name="count"/> valid-looking regions, each with its fd: more than the backend's maximum.</summary>
    public static HostileMessage TooManyRegions(int count = MessageLimits.MaxSetMemTableRegions + 1) =>
        Table($"SET_MEM_TABLE with {count} regions", Enumerable.Range(0, count).Select(i => Region(i)).ToArray());

    /// <summary>nregions says <paramref name="declared"/> but one region (and one fd) is carried.</summary>
    public static HostileMessage DeclaresMoreThanCarried(uint declared = 3) =>
        Table($"SET_MEM_TABLE declaring {declared} regions, carrying 1", [Region(0)], declaredRegions: declared);

    public static HostileMessage ZeroSizedRegion() => Table("SET_MEM_TABLE with a zero-sized region", [Region(0, size: 0)]);

    /// <summary>gpa + size wraps past 2^64.</summary>
    public static HostileMessage GpaOverflow() =>
        Table("SET_MEM_TABLE region with gpa+size overflowing", [Region(0) with { GuestPhysAddr = ulong.MaxValue - 0xFFF }]);

    /// <summary>uaddr + size wraps past 2^64.</summary>
    public static HostileMessage UserAddrOverflow() =>
        Table("SET_MEM_TABLE region with uaddr+size overflowing", [Region(0) with { UserspaceAddr = ulong.MaxValue - 0xFFF }]);

    /// <summary>mmap_offset + size wraps past 2^64.</summary>
    public static HostileMessage MmapOffsetOverflow() =>
        Table("SET_MEM_TABLE region with mmap_offset+size overflowing", [Region(0) with { MmapOffset = ulong.MaxValue - 0xFFF }]);

    /// <summary>Two regions sharing guest-physical addresses (their QVAs are distinct).</summary>
    public static HostileMessage OverlappingGpa() =>
        Table("SET_MEM_TABLE with regions overlapping in guest-physical space",
            [Region(0), Region(1) with { GuestPhysAddr = Region(0).GuestPhysAddr + RegionSize / 2 }]);

    /// <summary>Two regions sharing frontend addresses (their gpas are distinct).</summary>
    public static HostileMessage OverlappingQva() =>
        Table("SET_MEM_TABLE with regions overlapping in frontend address space",
            [Region(0), Region(1) with { UserspaceAddr = Region(0).UserspaceAddr + RegionSize / 2 }]);

    /// <summary>A 4 MiB region backed by a 2 MiB memfd: mapping it would fault past the file's end.</summary>
    public static HostileMessage LargerThanFd() =>
        Table("SET_MEM_TABLE region larger than its fd", [Region(0, size: 2 * RegionSize)], fdSize: RegionSize);

    /// <summary>An offset that puts a 2 MiB region past the end of its 2 MiB memfd.</summary>
    public static HostileMessage OffsetPastFdEnd() =>
        Table("SET_MEM_TABLE region at an offset past its fd's end", [Region(0) with { MmapOffset = RegionSize }]);

    /// <summary>Case 2: <paramref name="regions"/> regions but only <paramref name="fds"/> fds.</summary>
    public static HostileMessage FewerFdsThanRegions(int regions = 2, int fds = 1) =>
        Table($"SET_MEM_TABLE with {regions} regions and {fds} fd(s)",
            Enumerable.Range(0, regions).Select(i => Region(i)).ToArray(), fdCount: fds, securityCase: FdCase);
}
