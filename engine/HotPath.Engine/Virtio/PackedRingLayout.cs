using System.Runtime.InteropServices;

namespace HotPath.Engine.Virtio;

/// <summary>A packed-ring descriptor (virtio 2.8.13): 16 bytes in guest memory.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
public struct VringPackedDesc
{
    public ulong Addr;
    public uint Len;
    public ushort Id;
    public ushort Flags;

    public const ushort FlagNext = 1, FlagWrite = 2, FlagIndirect = 4;
    public const ushort FlagAvail = 1 << 7, FlagUsed = 1 << 15;
}

/// <summary>Packed-ring event suppression structure (driver and device areas, 4 bytes each).</summary>
[StructLayout(LayoutKind.Sequential, Size = 4)]
public struct VringPackedEvent
{
    /// <summary>Bits 0-14 descriptor offset, bit 15 wrap counter.</summary>
    public ushort OffWrap;
    /// <summary>Bits 0-1: ENABLE (0), DISABLE (1), DESC (2).</summary>
    public ushort Flags;

    public const ushort Enable = 0, Disable = 1, Desc = 2;
}

public static class PackedRingLayout
{
    public const uint MaxSize = 32768;
    public static ulong DescBytes(uint size) => 16UL * size;
    public const ulong EventBytes = 4;

    /// <summary>True when a descriptor with <paramref name="flags"/> is available for the given wrap counter.</summary>
    public static bool IsAvail(ushort flags, bool wrap) =>
        ((flags & VringPackedDesc.FlagAvail) != 0) == wrap && ((flags & VringPackedDesc.FlagUsed) != 0) != wrap;
}
