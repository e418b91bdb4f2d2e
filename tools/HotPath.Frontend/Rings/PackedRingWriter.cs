using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;

namespace HotPath.Frontend.Rings;

/// <summary>
/// The guest's view of one packed ring's memory, as rust-vmm's mock queue gives it: write a descriptor slot (flags
/// apart, so a chain's head can be released last), read used descriptors, and the two event suppression areas. The
/// one place the driver side writes the packed layout: <see cref="PackedRingDriver"/> (tests, benchmarks,
/// hp-frontend) and the fuzz guest drivers build on it, each with its own policy. Holds pointers only.
/// </summary>
public readonly unsafe struct PackedRingWriter
{
    private readonly VringPackedDesc* _desc;
    private readonly byte* _driverEvent;   // written by the driver: interrupt suppression
    private readonly byte* _deviceEvent;   // written by the device: kick suppression

    /// <summary>The ring in <paramref name="areas"/>, mapped in <paramref name="mem"/>.</summary>
    public PackedRingWriter(FrontendMemory mem, RingAreas areas)
    {
        if (!areas.Packed) throw new ArgumentException("not a packed ring", nameof(areas));
        Size = areas.Size;
        _desc = (VringPackedDesc*)mem.Host(areas.DescGpa);
        _driverEvent = mem.Host(areas.DriverAreaGpa);
        _deviceEvent = mem.Host(areas.DeviceAreaGpa);
    }

    public uint Size { get; }

    /// <summary>The descriptor ring.</summary>
    public VringPackedDesc* Descriptors => _desc;

    /// <summary>Writes address, length and id of slot <paramref name="slot"/>, not its flags (plain stores: the flags
    /// store that makes the slot available, <see cref="WriteFlags"/> or <see cref="ReleaseFlags"/>, comes after).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteDesc(uint slot, ulong addr, uint len, ushort id)
    {
        if (slot >= Size) ThrowOutOfRange(nameof(slot));
        VringPackedDesc* d = _desc + slot;
        d->Addr = addr;
        d->Len = len;
        d->Id = id;
    }

    /// <summary>Stores the flags of slot <paramref name="slot"/> (plain: a non-head slot of a chain whose head is released later).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteFlags(uint slot, ushort flags)
    {
        if (slot >= Size) ThrowOutOfRange(nameof(slot));
        _desc[slot].Flags = flags;
    }

    /// <summary>Stores the flags of slot <paramref name="slot"/> with release semantics.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ReleaseFlags(uint slot, ushort flags)
    {
        if (slot >= Size) ThrowOutOfRange(nameof(slot));
        // Release store: the descriptors of the chain (and the packet bytes in its buffers) are visible to the device
        // before the flags that make it available.
        Volatile.Write(ref _desc[slot].Flags, flags);
    }

    /// <summary>The descriptor at <paramref name="slot"/> as it is now.</summary>
    public VringPackedDesc At(uint slot) => slot < Size ? _desc[slot] : throw new ArgumentOutOfRangeException(nameof(slot));

    /// <summary>
    /// The used descriptor at <paramref name="slot"/> if the device has used it in the lap of <paramref name="wrap"/>:
    /// flags read first (acquire), then id and length.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryUsed(uint slot, bool wrap, out ushort id, out uint len)
    {
        VringPackedDesc* d = _desc + slot;
        ushort flags = Volatile.Read(ref d->Flags);
        if (!PackedRingLayout.IsUsed(flags, wrap))
        {
            id = 0;
            len = 0;
            return false;
        }
        id = d->Id;
        len = d->Len;
        return true;
    }

    /// <summary>Writes the driver event suppression area: off_wrap first, then flags (release).</summary>
    public void SetDriverEvent(ushort offWrap, ushort flags)
    {
        Volatile.Write(ref *(ushort*)(_driverEvent + PackedRingLayout.EventOffWrapOffset), offWrap);
        Volatile.Write(ref *(ushort*)(_driverEvent + PackedRingLayout.EventFlagsOffset), flags);
    }

    /// <summary>The driver event suppression flags as last written.</summary>
    public ushort DriverEventFlags => *(ushort*)(_driverEvent + PackedRingLayout.EventFlagsOffset);

    /// <summary>The device event suppression area in one 32-bit load: off_wrap (low half) and flags from the same moment.</summary>
    public uint DeviceEvent => Volatile.Read(ref *(uint*)_deviceEvent);

    public ushort DeviceEventFlags => Volatile.Read(ref *(ushort*)(_deviceEvent + PackedRingLayout.EventFlagsOffset));
    public ushort DeviceEventOffWrap => Volatile.Read(ref *(ushort*)(_deviceEvent + PackedRingLayout.EventOffWrapOffset));

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowOutOfRange(string name) => throw new ArgumentOutOfRangeException(name);
}
