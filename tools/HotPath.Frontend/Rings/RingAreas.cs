using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;

namespace HotPath.Frontend.Rings;

/// <summary>
/// The three guest-memory areas of one virtqueue, allocated in a <see cref="FrontendMemory"/> with the alignment
/// the virtio spec requires (split: desc 16, avail 2, used 4; packed: desc 16, event areas 4). Ring drivers build
/// on it; the vhost-user client sends it as SET_VRING_NUM/ADDR/BASE.
/// </summary>
public sealed class RingAreas : IRingLayout
{
    public uint Size { get; }
    public bool Packed { get; }
    public ulong DescGpa { get; }
    public ulong DriverAreaGpa { get; }
    public ulong DeviceAreaGpa { get; }
    public uint BaseIndex { get; set; }

    private RingAreas(uint size, bool packed, ulong desc, ulong driver, ulong device)
    {
        Size = size;
        Packed = packed;
        DescGpa = desc;
        DriverAreaGpa = driver;
        DeviceAreaGpa = device;
        BaseIndex = packed ? 0x8000u : 0;   // packed rings start with wrap counter 1
    }

    /// <summary>Split ring of <paramref name="size"/> (a power of two) entries; every area on its own cache lines.</summary>
    public static RingAreas AllocateSplit(FrontendMemory mem, uint size, int region = -1)
    {
        if (size == 0 || size > SplitRingLayout.MaxSize || !uint.IsPow2(size))
            throw new ArgumentOutOfRangeException(nameof(size), "split ring size must be a power of two up to 32768");
        ulong desc = mem.Alloc(SplitRingLayout.DescBytes(size), 4096, region);
        ulong avail = mem.Alloc(SplitRingLayout.AvailBytes(size), 64, region);
        ulong used = mem.Alloc(SplitRingLayout.UsedBytes(size), 4096, region);
        return new RingAreas(size, false, desc, avail, used);
    }

    /// <summary>Packed ring of <paramref name="size"/> entries (1..32768).</summary>
    public static RingAreas AllocatePacked(FrontendMemory mem, uint size, int region = -1)
    {
        if (size == 0 || size > PackedRingLayout.MaxSize)
            throw new ArgumentOutOfRangeException(nameof(size), "packed ring size must be 1..32768");
        ulong desc = mem.Alloc(PackedRingLayout.DescBytes(size), 4096, region);
        ulong driver = mem.Alloc(PackedRingLayout.EventBytes, 64, region);
        ulong device = mem.Alloc(PackedRingLayout.EventBytes, 64, region);
        return new RingAreas(size, true, desc, driver, device);
    }
}
