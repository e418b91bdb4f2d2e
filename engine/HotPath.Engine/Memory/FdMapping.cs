using HotPath.Engine.Interop;

namespace HotPath.Engine.Memory;

/// <summary>
/// A shared mapping of [offset, offset+size) of an fd, with the fd's size checked first so no byte of the range lies
/// past the end of the file. Used for the dirty log and the inflight region (guest memory has MappedRegion).
/// </summary>
public sealed unsafe class FdMapping : IDisposable
{
    private nint _mapBase;
    private nuint _mapLength;
    private int _fd;

    public byte* Base { get; }
    public ulong Size { get; }
    public int Fd => _fd;

    /// <summary>Where the range starts in the fd (the mmap_offset it was mapped with).</summary>
    public ulong Offset { get; }

    private FdMapping(int fd, nint mapBase, nuint mapLength, byte* start, ulong size, ulong offset)
    {
        _fd = fd;
        Offset = offset;
        _mapBase = mapBase;
        _mapLength = mapLength;
        Base = start;
        Size = size;
    }

    /// <summary>Maps the range. On success the mapping owns <paramref name="fd"/>; on failure the caller still does.</summary>
    public static MemoryError TryMap(int fd, ulong size, ulong offset, out FdMapping? mapping)
    {
        mapping = null;
        if (size == 0) return MemoryError.ZeroSize;
        if (offset > ulong.MaxValue - size || offset + size > long.MaxValue) return MemoryError.OffsetOverflow;
        long fileSize = LibC.FileSize(fd);
        if (fileSize < 0) return MemoryError.BadFd;
        if ((ulong)fileSize < offset + size) return MemoryError.FdTooSmall;
        ulong mapOffset = offset & ~4095UL;
        ulong length = (offset - mapOffset + size + 4095) & ~4095UL;
        if (length > nuint.MaxValue) return MemoryError.MapFailed;
        nint p = LibC.mmap(0, (nuint)length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, (long)mapOffset);
        if (p == LibC.MAP_FAILED) return MemoryError.MapFailed;
        mapping = new FdMapping(fd, p, (nuint)length, (byte*)p + (offset - mapOffset), size, offset);
        return MemoryError.None;
    }

    public void Dispose()
    {
        if (_mapBase != 0)
        {
            LibC.munmap(_mapBase, _mapLength);
            _mapBase = 0;
        }
        if (_fd >= 0)
        {
            LibC.close(_fd);
            _fd = -1;
        }
    }
}
