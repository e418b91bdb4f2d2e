namespace HotPath.Engine.Memory;

/// <summary>
/// One guest memory region as a frontend describes it (SET_MEM_TABLE / ADD_MEM_REG): guest physical address,
/// size, the frontend's own virtual address (QVA) and the offset of the region in the fd it sends along.
/// </summary>
public readonly record struct RegionDescriptor(ulong GuestPhysAddr, ulong Size, ulong UserAddr, ulong MmapOffset)
{
    /// <summary>Last guest physical address inside the region (inclusive, so a region may end at 2^64-1).</summary>
    public ulong GuestPhysLast => GuestPhysAddr + Size - 1;

    /// <summary>Last frontend virtual address inside the region (inclusive).</summary>
    public ulong UserLast => UserAddr + Size - 1;

    /// <summary>
    /// Checks the fields that need no fd: non-zero size and no u64 wrap-around of gpa+size, uaddr+size and
    /// mmap_offset+size (SECURITY.md case 5).
    /// </summary>
    public MemoryError Validate()
    {
        if (Size == 0) return MemoryError.ZeroSize;
        ulong lastOffset = Size - 1;
        if (GuestPhysAddr > ulong.MaxValue - lastOffset) return MemoryError.GuestAddressOverflow;
        if (UserAddr > ulong.MaxValue - lastOffset) return MemoryError.UserAddressOverflow;
        if (MmapOffset > ulong.MaxValue - lastOffset || MmapOffset + lastOffset > long.MaxValue)
            return MemoryError.OffsetOverflow;
        return MemoryError.None;
    }

    /// <summary>True when the two regions share a guest physical or a frontend virtual byte.</summary>
    public bool Overlaps(in RegionDescriptor other) =>
        (GuestPhysAddr <= other.GuestPhysLast && other.GuestPhysAddr <= GuestPhysLast) ||
        (UserAddr <= other.UserLast && other.UserAddr <= UserLast);
}
