using HotPath.Engine.Virtio;

namespace HotPath.Frontend.Rings;

/// <summary>
/// Region-crossing posts and raw ring access for hostile tests and fuzzing: arbitrary descriptors, avail entries
/// and avail index values, written straight into guest memory.
/// </summary>
public sealed unsafe partial class SplitRingDriver
{
    /// <summary>The descriptor table in guest memory.</summary>
    public VringDesc* RawDescriptors => _ring.Descriptors;

    /// <summary>Writes descriptor <paramref name="index"/> (any value, any index below the ring size).</summary>
    public void RawWriteDesc(ushort index, ulong addr, uint len, ushort flags, ushort next)
    {
        if (index >= RingSize) throw new ArgumentOutOfRangeException(nameof(index));
        SetDesc(index, addr, len, flags, next);
    }

    /// <summary>Writes one entry of an indirect table area owned by head <paramref name="head"/>; returns the table's gpa.</summary>
    public ulong RawWriteIndirect(ushort head, int entry, ulong addr, uint len, ushort flags, ushort next)
    {
        if (entry < 0 || entry >= MaxIndirect) throw new ArgumentOutOfRangeException(nameof(entry));
        var table = (VringDesc*)Mem.Host(IndirectGpa(head));
        table[entry] = new VringDesc { Addr = addr, Len = len, Flags = flags, Next = next };
        return IndirectGpa(head);
    }

    /// <summary>
    /// Takes a free descriptor id out of the driver's free list for a raw chain (it returns to the list when the
    /// device uses a head posted with <see cref="RawPushAvail"/> only if the test calls <see cref="RawRelease"/>).
    /// </summary>
    public ushort RawTakeDescriptor()
    {
        if (Chains.Free == 0) throw new InvalidOperationException("no free descriptors");
        return Chains.Pop();
    }

    /// <summary>Gives a descriptor id taken with <see cref="RawTakeDescriptor"/> back to the free list.</summary>
    public void RawRelease(ushort id) => Chains.Push(id);

    /// <summary>
    /// Writes <paramref name="head"/> (any value) into the next avail slot, not yet published. The used entry the
    /// device returns for it is accepted by the reap methods without freeing anything.
    /// </summary>
    public void RawPushAvail(ushort head)
    {
        if (head < RingSize)
        {
            InFlightIds[head] = true;
            RawIds[head] = true;
        }
        else _rawOutOfRange++;
        PushAvail(head);
    }

    /// <summary>Stores <paramref name="value"/> into avail.idx as is (e.g. a jump larger than the ring).</summary>
    public void RawSetAvailIdx(ushort value) => _ring.AvailIdx = value;

    /// <summary>The device's used index as the guest sees it.</summary>
    public ushort UsedIdx => _ring.UsedIdx;

    /// <summary>The driver's next used index to reap.</summary>
    public ushort LastUsed => _lastUsed;

    /// <summary>Used entry at free-running index <paramref name="idx"/>.</summary>
    public VringUsedElem RawUsed(ushort idx) => ReadUsed(idx);

    /// <summary>used.flags as the device set it.</summary>
    public ushort UsedFlags => _ring.UsedFlags;

    /// <summary>used.avail_event (EVENT_IDX).</summary>
    public ushort AvailEvent => _ring.AvailEvent;
}
