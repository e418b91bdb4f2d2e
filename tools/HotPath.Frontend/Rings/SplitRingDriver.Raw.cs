using HotPath.Engine.Virtio;

namespace HotPath.Frontend.Rings;

/// <summary>
/// Region-crossing posts and raw ring access for hostile tests and fuzzing: arbitrary descriptors, avail entries
/// and avail index values, written straight into guest memory.
/// </summary>
public sealed unsafe partial class SplitRingDriver
{
    /// <summary>
    /// Posts one chain of a single descriptor whose buffer crosses a region boundary: a TX packet (header + data)
    /// when <paramref name="rxLen"/> is 0, otherwise a writable RX buffer of that many bytes.
    /// </summary>
    private bool PostCrossing(ReadOnlySpan<byte> header, ReadOnlySpan<byte> data, uint rxLen)
    {
        if (Buffers.CrossingGpa == 0) throw new InvalidOperationException("driver built without CrossingBuffer");
        if (_crossingHead >= 0 || _nFree < 1) return false;
        uint len = rxLen != 0 ? rxLen : (uint)(header.Length + data.Length);
        if (len > Buffers.BufferSize) throw new ArgumentException("larger than the crossing buffer");
        ushort head = Pop();
        if (rxLen == 0)
        {
            Buffers.Write(Buffers.CrossingGpa, header);
            Buffers.Write(Buffers.CrossingGpa + (ulong)header.Length, data);
        }
        _descGpa[head] = Buffers.CrossingGpa;
        _descLen[head] = len;
        SetDesc(head, Buffers.CrossingGpa, len, rxLen != 0 ? VringDesc.FlagWrite : (ushort)0, 0);
        _crossingHead = head;
        _lastHead = head;
        Track(head, 1);
        return true;
    }

    /// <summary>Head descriptor id of the chain posted last by PostTx/PostRx.</summary>
    public ushort LastPostedHead => _lastHead;

    /// <summary>The descriptor table in guest memory.</summary>
    public VringDesc* RawDescriptors => _desc;

    /// <summary>Writes descriptor <paramref name="index"/> (any value, any index below the ring size).</summary>
    public void RawWriteDesc(ushort index, ulong addr, uint len, ushort flags, ushort next)
    {
        if (index >= _size) throw new ArgumentOutOfRangeException(nameof(index));
        SetDesc(index, addr, len, flags, next);
    }

    /// <summary>Writes one entry of an indirect table area owned by head <paramref name="head"/>; returns the table's gpa.</summary>
    public ulong RawWriteIndirect(ushort head, int entry, ulong addr, uint len, ushort flags, ushort next)
    {
        if (entry < 0 || entry >= _maxIndirect) throw new ArgumentOutOfRangeException(nameof(entry));
        var table = (VringDesc*)_mem.Host(IndirectGpa(head));
        table[entry] = new VringDesc { Addr = addr, Len = len, Flags = flags, Next = next };
        return IndirectGpa(head);
    }

    /// <summary>
    /// Takes a free descriptor id out of the driver's free list for a raw chain (it returns to the list when the
    /// device uses a head posted with <see cref="RawPushAvail"/> only if the test calls <see cref="RawRelease"/>).
    /// </summary>
    public ushort RawTakeDescriptor()
    {
        if (_nFree == 0) throw new InvalidOperationException("no free descriptors");
        return Pop();
    }

    /// <summary>Gives a descriptor id taken with <see cref="RawTakeDescriptor"/> back to the free list.</summary>
    public void RawRelease(ushort id) => Push(id);

    /// <summary>
    /// Writes <paramref name="head"/> (any value) into the next avail slot, not yet published. The used entry the
    /// device returns for it is accepted by the reap methods without freeing anything.
    /// </summary>
    public void RawPushAvail(ushort head)
    {
        if (head < _size)
        {
            _inFlight[head] = true;
            _raw[head] = true;
        }
        else _rawOutOfRange++;
        *(ushort*)(_avail + SplitRingLayout.AvailRingOffset + 2 * (_availShadow & _mask)) = head;
        _availShadow++;
    }

    /// <summary>Stores <paramref name="value"/> into avail.idx as is (e.g. a jump larger than the ring).</summary>
    public void RawSetAvailIdx(ushort value) =>
        Volatile.Write(ref *(ushort*)(_avail + SplitRingLayout.AvailIdxOffset), value);

    /// <summary>The device's used index as the guest sees it.</summary>
    public ushort UsedIdx => Volatile.Read(ref *(ushort*)(_used + SplitRingLayout.UsedIdxOffset));

    /// <summary>The driver's next used index to reap.</summary>
    public ushort LastUsed => _lastUsed;

    /// <summary>Used entry at free-running index <paramref name="idx"/>.</summary>
    public VringUsedElem RawUsed(ushort idx) => ReadUsed(idx);

    /// <summary>used.flags as the device set it.</summary>
    public ushort UsedFlags => Volatile.Read(ref *(ushort*)(_used + SplitRingLayout.UsedFlagsOffset));

    /// <summary>used.avail_event (EVENT_IDX).</summary>
    public ushort AvailEvent => Volatile.Read(ref *(ushort*)(_used + SplitRingLayout.AvailEventOffset(_size)));
}
