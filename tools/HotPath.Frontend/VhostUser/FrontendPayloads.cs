using System.Runtime.InteropServices;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// Builds the payload bytes of frontend requests from typed values. The typed frontend and the malformed-message
/// builders share these, so a hostile message differs from a good one only in the field it means to break.
/// </summary>
public static class FrontendPayloads
{
    /// <summary>The bytes of an unmanaged struct, exactly as laid out (see the layout tests of the wire structs).</summary>
    public static byte[] Of<T>(in T value) where T : unmanaged
    {
        var bytes = new byte[Marshal.SizeOf<T>()];
        MemoryMarshal.Write(bytes, in value);
        return bytes;
    }

    public static byte[] U64(ulong value) => Of(value);

    public static byte[] VringState(uint index, uint num) => Of(new VringStatePayload { Index = index, Num = num });

    /// <summary>The u64 of SET_VRING_KICK/CALL/ERR: bits 0-7 the index, bit 8 when no fd is passed.</summary>
    public static ulong VringFd(uint index, bool noFd) =>
        (index & VringFdPayload.IndexMask) | (noFd ? VringFdPayload.NoFdFlag : 0);

    /// <summary>A region as SET_MEM_TABLE / ADD_MEM_REG carry it: the frontend's own address is the QVA.</summary>
    public static MemoryRegionPayload Region(FrontendMemory.Region r) => new()
    {
        GuestPhysAddr = r.GuestPhysAddr,
        MemorySize = r.Size,
        UserspaceAddr = r.UserAddr,
        MmapOffset = r.MmapOffset,
    };

    /// <summary>
    /// SET_MEM_TABLE: u32 nregions, u32 padding, then the regions. <paramref name="declaredRegions"/> overrides the
    /// count field (malformed tables declare more or fewer regions than they carry).
    /// </summary>
    public static byte[] MemTable(ReadOnlySpan<MemoryRegionPayload> regions, uint? declaredRegions = null)
    {
        int headerSize = Marshal.SizeOf<MemoryTableHeader>(), regionSize = Marshal.SizeOf<MemoryRegionPayload>();
        var bytes = new byte[headerSize + regionSize * regions.Length];
        var header = new MemoryTableHeader { NRegions = declaredRegions ?? (uint)regions.Length };
        MemoryMarshal.Write(bytes, in header);
        for (int i = 0; i < regions.Length; i++)
            MemoryMarshal.Write(bytes.AsSpan(headerSize + i * regionSize), in regions[i]);
        return bytes;
    }

    public static byte[] MemTable(FrontendMemory memory) =>
        MemTable(memory.Regions.Select(Region).ToArray());

    public static byte[] MemReg(MemoryRegionPayload region) => Of(new MemRegPayload { Region = region });

    /// <summary>SET_VRING_ADDR for a ring laid out in <paramref name="memory"/>: the three areas as QVAs.</summary>
    public static VringAddrPayload VringAddr(uint index, IRingLayout ring, FrontendMemory memory, uint flags = 0,
        ulong logGuestAddr = 0) => new()
    {
        Index = index,
        Flags = flags,
        DescUserAddr = memory.UserAddr(ring.DescGpa),
        UsedUserAddr = memory.UserAddr(ring.DeviceAreaGpa),
        AvailUserAddr = memory.UserAddr(ring.DriverAreaGpa),
        LogGuestAddr = logGuestAddr,
    };

    /// <summary>SET_VRING_ADDR under IOMMU_PLATFORM: the ring areas as IOVAs (guest physical address + <paramref name="iovaOffset"/>).</summary>
    public static VringAddrPayload VringAddrIova(uint index, IRingLayout ring, uint flags = 0, ulong logGuestAddr = 0,
        ulong iovaOffset = 0) => new()
    {
        Index = index,
        Flags = flags,
        DescUserAddr = ring.DescGpa + iovaOffset,
        UsedUserAddr = ring.DeviceAreaGpa + iovaOffset,
        AvailUserAddr = ring.DriverAreaGpa + iovaOffset,
        LogGuestAddr = logGuestAddr,
    };

    /// <summary>IOTLB_MSG: struct vhost_iotlb_msg.</summary>
    public static byte[] Iotlb(ulong iova, ulong size, ulong userAddr, byte perm, byte type) =>
        Of(new IotlbPayload { Iova = iova, Size = size, UserAddr = userAddr, Perm = perm, Type = type });

    /// <summary>
    /// GET/SET_CONFIG: u32 offset, u32 size, u32 flags, then <paramref name="data"/> (the config bytes to write,
    /// or zeros of the length to read). The message is 12 + data.Length bytes, as QEMU sends it.
    /// </summary>
    public static byte[] Config(uint offset, uint size, uint flags, ReadOnlySpan<byte> data)
    {
        var bytes = new byte[ConfigPayload.HeaderSize + data.Length];
        MemoryMarshal.Write(bytes, in offset);
        MemoryMarshal.Write(bytes.AsSpan(4), in size);
        MemoryMarshal.Write(bytes.AsSpan(8), in flags);
        data.CopyTo(bytes.AsSpan(ConfigPayload.HeaderSize));
        return bytes;
    }

    /// <summary>SEND_RARP: the 6-byte MAC in the first bytes of a u64.</summary>
    public static byte[] Mac(ReadOnlySpan<byte> mac)
    {
        if (mac.Length != 6) throw new ArgumentException("a MAC address is 6 bytes", nameof(mac));
        var bytes = new byte[8];
        mac.CopyTo(bytes);
        return bytes;
    }
}
