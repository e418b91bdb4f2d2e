namespace HotPath.Engine.Vrings;

/// <summary>Why a vring's configuration was refused or why the ring was marked broken.</summary>
public enum VringError
{
    None = 0,
    BadSize,
    NoMemoryTable,
    DescOutsideMemory,
    AvailOutsideMemory,
    UsedOutsideMemory,
    DescMisaligned,
    AvailMisaligned,
    UsedMisaligned,
    UnknownAddrFlags,
    LogAddrInvalid,
    AvailIndexJump,
    BadBaseIndex,
    PositionOutsideRing,
    IotlbMiss,
    IotlbNotMapped,
    LogAddrOutsideMemory,
}

public static class VringErrorText
{
    public static string Describe(this VringError e) => e switch
    {
        VringError.None => "ok",
        VringError.BadSize => "ring size is 0, above 32768, or not a power of two on a split ring",
        VringError.NoMemoryTable => "ring addresses set before any memory table",
        VringError.DescOutsideMemory => "descriptor table is not inside one mapped region",
        VringError.AvailOutsideMemory => "avail ring (driver area) is not inside one mapped region",
        VringError.UsedOutsideMemory => "used ring (device area) is not inside one mapped region",
        VringError.DescMisaligned => "descriptor table is not 16-byte aligned",
        VringError.AvailMisaligned => "avail ring is not 2-byte aligned",
        VringError.UsedMisaligned => "used ring is not 4-byte aligned",
        VringError.UnknownAddrFlags => "unknown flag bits in SET_VRING_ADDR",
        VringError.LogAddrInvalid => "used ring log address wraps around the address space",
        VringError.AvailIndexJump => "avail index moved by more than the ring size",
        VringError.BadBaseIndex => "ring base index out of range",
        VringError.PositionOutsideRing => "packed ring position past the end of the ring after a size change (until SET_VRING_BASE)",
        VringError.IotlbMiss => "a ring address is not in the IOTLB yet (a miss was sent; the ring waits for the update)",
        VringError.IotlbNotMapped => "a ring area is mapped by the IOTLB without the access it needs, or not to contiguous memory",
        VringError.LogAddrOutsideMemory => "the used ring log address (an IOVA under IOMMU_PLATFORM) does not lead into one memory region",
        _ => e.ToString(),
    };
}
