using System.Runtime.InteropServices;

namespace HotPath.Protocol.Wire;

// Payload structs of the vhost-user messages, laid out as in QEMU's hw/virtio/vhost-user.c and DPDK's
// vhost_user.h. A layout test pins the size and every offset.

/// <summary>struct vhost_vring_state: SET_VRING_NUM/BASE/ENABLE, GET_VRING_BASE.</summary>
[StructLayout(LayoutKind.Sequential, Size = 8)]
public struct VringStatePayload
{
    public uint Index;
    public uint Num;
}

/// <summary>struct vhost_vring_addr: SET_VRING_ADDR. Note the order: desc, used, avail, log.</summary>
[StructLayout(LayoutKind.Sequential, Size = 40)]
public struct VringAddrPayload
{
    public uint Index;
    public uint Flags;
    public ulong DescUserAddr;
    public ulong UsedUserAddr;
    public ulong AvailUserAddr;
    public ulong LogGuestAddr;
}

/// <summary>VhostUserMemoryRegion: one entry of SET_MEM_TABLE, and the region of ADD/REM_MEM_REG.</summary>
[StructLayout(LayoutKind.Sequential, Size = 32)]
public struct MemoryRegionPayload
{
    public ulong GuestPhysAddr;
    public ulong MemorySize;
    public ulong UserspaceAddr;
    public ulong MmapOffset;
}

/// <summary>VhostUserMemory header: u32 nregions, u32 padding, then nregions × <see cref="MemoryRegionPayload"/>.</summary>
[StructLayout(LayoutKind.Sequential, Size = 8)]
public struct MemoryTableHeader
{
    public uint NRegions;
    public uint Padding;
}

/// <summary>VhostUserMemRegMsg: ADD_MEM_REG / REM_MEM_REG.</summary>
[StructLayout(LayoutKind.Sequential, Size = 40)]
public struct MemRegPayload
{
    public ulong Padding;
    public MemoryRegionPayload Region;
}

/// <summary>VhostUserLog: SET_LOG_BASE.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
public struct LogPayload
{
    public ulong MmapSize;
    public ulong MmapOffset;
}

/// <summary>VhostUserInflight: GET/SET_INFLIGHT_FD (20 bytes of fields, 24 with C tail padding).</summary>
[StructLayout(LayoutKind.Sequential, Size = 24)]
public struct InflightPayload
{
    public ulong MmapSize;
    public ulong MmapOffset;
    public ushort NumQueues;
    public ushort QueueSize;
}

/// <summary>VhostUserConfig: GET/SET_CONFIG. The config space is at most 256 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Size = 12 + ConfigSpaceMax)]
public unsafe struct ConfigPayload
{
    public const int ConfigSpaceMax = 256;
    public const int HeaderSize = 12;
    public uint Offset;
    public uint Size;
    public uint Flags;
    public fixed byte Region[ConfigSpaceMax];
}

/// <summary>struct vhost_iotlb_msg: IOTLB_MSG.</summary>
[StructLayout(LayoutKind.Sequential, Size = 32)]
public struct IotlbPayload
{
    public ulong Iova;
    public ulong Size;
    public ulong UserAddr;
    public byte Perm;
    public byte Type;
}

/// <summary>The u64 payload of SET_VRING_KICK/CALL/ERR: bits 0-7 vring index, bit 8 NOFD (no fd, poll).</summary>
public static class VringFdPayload
{
    public const ulong IndexMask = 0xFF;
    public const ulong NoFdFlag = 0x100;
    /// <summary>Bits that must be zero (SECURITY.md case 3: no silent truncation of the index).</summary>
    public const ulong ReservedMask = ~(IndexMask | NoFdFlag);
}

/// <summary>Virtio device status bits (SET_STATUS / GET_STATUS).</summary>
public static class DeviceStatus
{
    public const byte Acknowledge = 1, Driver = 2, DriverOk = 4, FeaturesOk = 8, NeedsReset = 0x40, Failed = 0x80;
}
