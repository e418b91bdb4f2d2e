namespace HotPath.Engine.Iommu;

/// <summary>Access rights of an IOTLB mapping (vhost's VHOST_ACCESS_RO/WO/RW).</summary>
public static class IotlbPerm
{
    public const byte Read = 1, Write = 2, ReadWrite = Read | Write;

    /// <summary>Readable text of a permission value (for logs).</summary>
    public static string Describe(byte perm) => perm switch
    {
        Read => "RO",
        Write => "WO",
        ReadWrite => "RW",
        _ => $"0x{perm:x}",
    };
}

/// <summary>
/// One IOTLB mapping: the <see cref="Size"/> bytes from I/O virtual address <see cref="Iova"/> are the frontend's
/// virtual addresses from <see cref="UserAddr"/> (inside one memory region, checked at the door), with the rights
/// <see cref="Perm"/>. <see cref="Last"/> is inclusive, so a mapping may end at 2^64-1.
/// </summary>
public readonly record struct IotlbEntry(ulong Iova, ulong Size, ulong UserAddr, byte Perm)
{
    public ulong Last => Iova + (Size - 1);
}
