namespace HotPath.Engine.Memory;

/// <summary>Why a memory region or table was refused. Closed set; each value has a readable text.</summary>
public enum MemoryError
{
    None = 0,
    NoRegions,
    TooManyRegions,
    ZeroSize,
    GuestAddressOverflow,
    UserAddressOverflow,
    OffsetOverflow,
    Overlap,
    BadFd,
    FdTooSmall,
    MapFailed,
    NotFound,
}

public static class MemoryErrorText
{
    public static string Describe(this MemoryError e) => e switch
    {
        MemoryError.None => "ok",
        MemoryError.NoRegions => "memory table has no regions",
        MemoryError.TooManyRegions => "more regions than the advertised slot maximum",
        MemoryError.ZeroSize => "zero-sized region",
        MemoryError.GuestAddressOverflow => "guest_phys_addr + size wraps around u64",
        MemoryError.UserAddressOverflow => "userspace_addr + size wraps around u64",
        MemoryError.OffsetOverflow => "mmap_offset + size wraps around",
        MemoryError.Overlap => "regions overlap",
        MemoryError.BadFd => "region fd cannot be inspected (fstat failed)",
        MemoryError.FdTooSmall => "region extends past the end of its fd",
        MemoryError.MapFailed => "mmap of the region failed",
        MemoryError.NotFound => "no such region",
        _ => e.ToString(),
    };
}
