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
    /// <summary>The fd cannot be sealed against shrinking (hugetlbfs or tmpfs file, memfd made without
    /// MFD_ALLOW_SEALING, or F_SEAL_SEAL set without F_SEAL_SHRINK): the frontend could truncate it under the
    /// mapping and kill the process with SIGBUS.</summary>
    FdNotSealable,
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
        MemoryError.FdNotSealable => "region fd cannot be sealed against shrinking (F_SEAL_SHRINK): a truncation would raise SIGBUS",
        _ => e.ToString(),
    };
}
