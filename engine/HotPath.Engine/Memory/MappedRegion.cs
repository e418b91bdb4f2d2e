using HotPath.Engine.Interop;

namespace HotPath.Engine.Memory;

/// <summary>
/// One guest memory region mapped into this process. Owns the mapping and the fd it came from.
/// The fd's size is checked before mapping, so no byte of the region lies past the end of its file.
/// </summary>
public sealed unsafe class MappedRegion : IDisposable
{
    private nint _mapBase;
    private nuint _mapLength;
    private int _fd;

    public RegionDescriptor Descriptor { get; }
    public ulong GuestPhysAddr => Descriptor.GuestPhysAddr;
    public ulong Size => Descriptor.Size;
    public ulong UserAddr => Descriptor.UserAddr;
    public ulong MmapOffset => Descriptor.MmapOffset;

    /// <summary>Host address of <see cref="GuestPhysAddr"/>.</summary>
    public byte* Host { get; }

    /// <summary>Start and length of the whole mapping (aligned down/up to the fd's page size).</summary>
    public nint MapBase => _mapBase;
    public nuint MapLength => _mapLength;
    public int Fd => _fd;

    /// <summary>
    /// True when the fd carries F_SEAL_SHRINK (set by the frontend, or added here): the file can no longer be
    /// truncated under the mapping, so no access can fault with SIGBUS.
    /// </summary>
    public bool ShrinkSealed { get; }

    private MappedRegion(RegionDescriptor d, int fd, nint mapBase, nuint mapLength, byte* host, bool sealedShrink)
    {
        Descriptor = d;
        _fd = fd;
        _mapBase = mapBase;
        _mapLength = mapLength;
        Host = host;
        ShrinkSealed = sealedShrink;
    }

    /// <summary>
    /// Validates <paramref name="d"/> against the fd and maps it. On success the region owns <paramref name="fd"/>;
    /// on failure the caller still owns it.
    /// <para>SIGBUS (SECURITY.md, a memfd the frontend shrinks after it was mapped): the fd is sealed against
    /// shrinking first (F_SEAL_SHRINK, added here when the frontend has not), then its size is checked against the
    /// region, then it is mapped; a sealed file can never again be smaller than the region, so no access to the
    /// mapping can fault. An fd that cannot be sealed is refused (<see cref="MemoryError.FdNotSealable"/>) unless
    /// <paramref name="requireShrinkSeal"/> is false: the application's choice for trusted frontends whose memory is
    /// a hugetlbfs or tmpfs file (DPDK virtio-user, QEMU memory-backend-file), which a truncation would still kill.</para>
    /// </summary>
    public static MemoryError TryMap(int fd, in RegionDescriptor d, out MappedRegion? region, bool requireShrinkSeal = true)
    {
        region = null;
        MemoryError e = d.Validate();
        if (e != MemoryError.None) return e;

        Stat st;
        if (fd < 0 || LibC.fstat(fd, &st) != 0) return MemoryError.BadFd;
        // Seal before the size check: checked first, the file could shrink between the check and the seal.
        bool sealedShrink = TrySealShrink(fd);
        if (!sealedShrink && requireShrinkSeal) return MemoryError.FdNotSealable;
        if (LibC.fstat(fd, &st) != 0) return MemoryError.BadFd;
        // The whole region must be backed by the file: touching a page past EOF raises SIGBUS.
        if (st.Size < 0 || (ulong)st.Size < d.MmapOffset || (ulong)st.Size - d.MmapOffset < d.Size)
            return MemoryError.FdTooSmall;

        // hugetlbfs reports its page size in st_blksize; mappings must be aligned to it.
        ulong align = st.BlockSize >= 4096 && ulong.IsPow2((ulong)st.BlockSize) ? (ulong)st.BlockSize : 4096;
        ulong mapOffset = d.MmapOffset & ~(align - 1);
        ulong lead = d.MmapOffset - mapOffset;
        ulong length = lead + d.Size;
        if (length < d.Size || length > ulong.MaxValue - align) return MemoryError.OffsetOverflow;
        length = (length + align - 1) & ~(align - 1);
        if (length > nuint.MaxValue) return MemoryError.MapFailed;

        nint p = LibC.mmap(0, (nuint)length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, (long)mapOffset);
        if (p == LibC.MAP_FAILED) return MemoryError.MapFailed;

        region = new MappedRegion(d, fd, p, (nuint)length, (byte*)p + lead, sealedShrink);
        return MemoryError.None;
    }

    /// <summary>
    /// Adds F_SEAL_SHRINK when the file allows sealing, so the frontend cannot truncate guest memory under us
    /// (the SIGBUS class of SECURITY.md). Files that do not support seals (hugetlbfs and tmpfs files, memfds made
    /// without MFD_ALLOW_SEALING: all report F_SEAL_SEAL) return false.
    /// </summary>
    private static bool TrySealShrink(int fd)
    {
        int seals = LibC.fcntl(fd, LibC.F_GET_SEALS, 0);
        if (seals < 0) return false;
        if ((seals & LibC.F_SEAL_SHRINK) != 0) return true;
        return (seals & LibC.F_SEAL_SEAL) == 0 && LibC.fcntl(fd, LibC.F_ADD_SEALS, LibC.F_SEAL_SHRINK) == 0;
    }

    /// <summary>
    /// True when <paramref name="fd"/> refers to the file this region maps (same device and inode), so a region
    /// described again with that fd would map the very same memory.
    /// </summary>
    public bool IsSameFile(int fd)
    {
        Stat mine, theirs;
        if (_fd < 0 || fd < 0 || LibC.fstat(_fd, &mine) != 0 || LibC.fstat(fd, &theirs) != 0) return false;
        return mine.Dev == theirs.Dev && mine.Ino == theirs.Ino;
    }

    /// <summary>True when [qva, qva+len) lies inside this region's frontend virtual range.</summary>
    public bool ContainsUser(ulong qva, ulong len) =>
        qva >= UserAddr && qva - UserAddr < Size && len <= Size - (qva - UserAddr);

    public void Dispose()
    {
        if (_mapBase != 0)
        {
            int rc = LibC.munmap(_mapBase, _mapLength);
            Debug.Assert(rc == 0, "munmap of a guest region failed");
            _mapBase = 0;
        }
        if (_fd >= 0)
        {
            LibC.close(_fd);
            _fd = -1;
        }
    }
}
