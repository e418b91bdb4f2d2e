using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;

namespace HotPath.Frontend.Rings;

/// <summary>
/// The guest's view of one split ring's memory, as rust-vmm's mock queue gives it: write descriptors, avail entries
/// and avail.idx, read the used ring and the suppression fields. The one place the driver side writes the split
/// layout: <see cref="SplitRingDriver"/> (tests, benchmarks, hp-frontend) and the fuzz guest drivers build on it, each
/// with its own policy (which descriptors, which lies). Holds pointers only: copying it allocates nothing.
/// </summary>
public readonly unsafe struct SplitRingWriter
{
    private readonly VringDesc* _desc;
    private readonly byte* _avail;
    private readonly byte* _used;
    private readonly uint _mask;

    /// <summary>The ring in <paramref name="areas"/> (its size a power of two), mapped in <paramref name="mem"/>.</summary>
    public SplitRingWriter(FrontendMemory mem, RingAreas areas)
    {
        if (areas.Packed || !uint.IsPow2(areas.Size)) throw new ArgumentException("not a split ring", nameof(areas));
        Size = areas.Size;
        _mask = areas.Size - 1;
        _desc = (VringDesc*)mem.Host(areas.DescGpa);
        _avail = mem.Host(areas.DriverAreaGpa);
        _used = mem.Host(areas.DeviceAreaGpa);
    }

    public uint Size { get; }

    /// <summary>The descriptor table.</summary>
    public VringDesc* Descriptors => _desc;

    /// <summary>Writes descriptor <paramref name="index"/> (below the ring size; plain stores, published by avail.idx).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteDesc(ushort index, ulong addr, uint len, ushort flags, ushort next)
    {
        if (index > _mask) ThrowOutOfRange(nameof(index));
        VringDesc* d = _desc + index;
        d->Addr = addr;
        d->Len = len;
        d->Flags = flags;
        d->Next = next;
    }

    /// <summary>Writes <paramref name="head"/> into the avail ring slot of free-running position <paramref name="position"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteAvail(ushort position, ushort head) =>
        *(ushort*)(_avail + SplitRingLayout.AvailRingOffset + 2 * (position & _mask)) = head;

    /// <summary>avail.idx: as last stored, or (setter) stored with release semantics.</summary>
    public ushort AvailIdx
    {
        get => *(ushort*)(_avail + SplitRingLayout.AvailIdxOffset);
        // Release: descriptors and avail ring entries written before are visible before the index that exposes them.
        set => Volatile.Write(ref *(ushort*)(_avail + SplitRingLayout.AvailIdxOffset), value);
    }

    /// <summary>avail.flags (VRING_AVAIL_F_NO_INTERRUPT), stored with release semantics.</summary>
    public ushort AvailFlags
    {
        get => *(ushort*)(_avail + SplitRingLayout.AvailFlagsOffset);
        set => Volatile.Write(ref *(ushort*)(_avail + SplitRingLayout.AvailFlagsOffset), value);
    }

    /// <summary>used_event (EVENT_IDX), at the end of the avail ring.</summary>
    public ushort UsedEvent
    {
        get => *(ushort*)(_avail + SplitRingLayout.UsedEventOffset(Size));
        set => Volatile.Write(ref *(ushort*)(_avail + SplitRingLayout.UsedEventOffset(Size)), value);
    }

    /// <summary>used.idx (acquire: the used entries before it are read after it). The setter is for a driver
    /// initialising a ring at a start index, before the device runs.</summary>
    public ushort UsedIdx
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref *(ushort*)(_used + SplitRingLayout.UsedIdxOffset));
        set => Volatile.Write(ref *(ushort*)(_used + SplitRingLayout.UsedIdxOffset), value);
    }

    /// <summary>used.flags (VRING_USED_F_NO_NOTIFY), as the device last stored it.</summary>
    public ushort UsedFlags => Volatile.Read(ref *(ushort*)(_used + SplitRingLayout.UsedFlagsOffset));

    /// <summary>avail_event (EVENT_IDX), at the end of the used ring.</summary>
    public ushort AvailEvent => Volatile.Read(ref *(ushort*)(_used + SplitRingLayout.AvailEventOffset(Size)));

    /// <summary>The used element at free-running position <paramref name="position"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public VringUsedElem Used(ushort position) =>
        *(VringUsedElem*)(_used + SplitRingLayout.UsedRingOffset + 8 * (position & _mask));

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowOutOfRange(string name) => throw new ArgumentOutOfRangeException(name);
}
