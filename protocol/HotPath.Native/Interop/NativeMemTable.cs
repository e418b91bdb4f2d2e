using System.Runtime.InteropServices;

namespace HotPath.Native.Interop;

/// <summary><c>struct hp_vhost_mem_region</c> (DPDK's rte_vhost_mem_region): 56 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeMemRegion
{
    public ulong GuestPhysAddr;
    public ulong GuestUserAddr;
    /// <summary>Host virtual address of <see cref="GuestPhysAddr"/> in this process.</summary>
    public ulong HostUserAddr;
    public ulong Size;
    public void* MmapAddr;
    public ulong MmapSize;
    public int Fd;
}

/// <summary><c>struct hp_vhost_memory</c>: <c>uint32_t nregions</c>, then the regions from offset 8.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeMemTable
{
    public uint NRegions;
    private readonly uint _padding;

    public static NativeMemRegion* Regions(NativeMemTable* m) => (NativeMemRegion*)((byte*)m + sizeof(NativeMemTable));
}

/// <summary>
/// <c>struct hp_vhost_vring</c> (DPDK's rte_vhost_vring): split desc/avail/used, or packed desc/driver event/device
/// event in the same three slots; 48 bytes.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeVring
{
    public void* Desc;
    public void* Avail;
    public void* Used;
    public ulong LogGuestAddr;
    public int CallFd;
    public int KickFd;
    public ushort Size;
}
