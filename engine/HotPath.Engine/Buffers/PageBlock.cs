namespace HotPath.Engine.Buffers;

/// <summary>
/// One mapping handed out by <see cref="PageAllocator"/>: the usable bytes, and the whole reservation (usable
/// mapping plus any PROT_NONE guard pages) that <see cref="PageAllocator.Free"/> unmaps. Blittable, so the native
/// headers of pools and rings can carry the block that holds them.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public unsafe struct PageBlock
{
    /// <summary>First usable byte; 64-byte aligned. With guard pages on it is placed so that Base + Length ends
    /// exactly at the trailing guard page (an overrun faults on its first byte).</summary>
    [FieldOffset(0)] public byte* Base;
    /// <summary>Usable bytes, as requested rounded up to 64.</summary>
    [FieldOffset(8)] public nuint Length;
    /// <summary>The read/write mapping that holds the usable bytes (page or hugepage aligned).</summary>
    [FieldOffset(16)] public byte* MapBase;
    [FieldOffset(24)] public nuint MapLength;
    /// <summary>The whole reservation including guard pages; equals the mapping when guards are off.</summary>
    [FieldOffset(32)] public byte* ReserveBase;
    [FieldOffset(40)] public nuint ReserveLength;
    [FieldOffset(48)] public byte Huge;
    [FieldOffset(49)] public byte Guarded;

    public readonly bool IsHuge => Huge != 0;
    public readonly bool IsGuarded => Guarded != 0;
    public readonly bool IsEmpty => MapBase == null;
}
