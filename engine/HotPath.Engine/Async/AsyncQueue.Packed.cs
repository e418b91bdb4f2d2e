using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Async;

/// <summary>
/// The packed ring's half of the pending used ring. A packed used entry lives in the descriptor ring, in the slot of
/// a chain the device has walked; the submit's burst writes its id and length there (as the synchronous burst does)
/// and keeps its flags in the burst's shadow. At the end of the submit each entry moves here, id and length included:
/// <see cref="VringUsedElem.Id"/> holds the used position (index | wrap &lt;&lt; 15) | buffer id &lt;&lt; 16,
/// <see cref="VringUsedElem.Len"/> the length. Publication writes id and length again and then the flags, so what
/// the guest finds is what the device wrote, whatever it stored into those slots meanwhile.
/// </summary>
internal sealed unsafe partial class AsyncQueue
{
    /// <summary>The used cursor after the last pending entry (meaningful while entries are pending).</summary>
    private PackedCursor _packedUsed;

    /// <summary>Where a submit writes its used entries: after the pending ones, else the ring's used position.</summary>
    public PackedCursor PackedUsedCursor(Vring vq) => UsedTail != UsedHead
        ? _packedUsed
        : new PackedCursor(vq.LastUsedIdx, PackedRingLayout.UsedPattern(vq.UsedWrapCounter));

    /// <summary>
    /// Descriptors between the ring's used position and the submits' cursor: the slots reserved and not published yet
    /// (a chain takes one or more).
    /// </summary>
    public uint PendingPackedDescriptors(Vring vq)
    {
        if (UsedTail == UsedHead) return 0;
        uint size = vq.Size, from = vq.LastUsedIdx;
        // Same index: a whole lap pending (the wrap counters differ; nothing pending was checked above).
        return _packedUsed.Index >= from ? (_packedUsed.Index == from ? size : _packedUsed.Index - from) : _packedUsed.Index + size - from;
    }

    /// <summary>
    /// Appends a packed burst's <paramref name="n"/> shadow entries (each holding its slot and flags:
    /// <see cref="PackedUsedRing.DirectNever"/>) to the pending used ring, with the id and length the burst wrote into
    /// each slot; <paramref name="end"/> is the burst's used cursor after them.
    /// </summary>
    public void AppendPackedUsed(uint* shadow, uint n, PackedCursor end)
    {
        Debug.Assert(UsedTail - UsedHead + n <= UsedCapacity);
        Vring vq = Vring;
        for (uint i = 0; i < n; i++)
        {
            uint e = shadow[i];
            uint index = e & 0xFFFF;
            // SAFETY: the index came from this burst's used cursor, below the ring size. Read back within the burst
            // that wrote it: the guest's window to change it is the synchronous burst's.
            ulong meta = PackedDescriptor.ReadMeta(PackedDescriptor.At(vq.Desc, index));
            bool wrap = ((e >> 16) & VringPackedDesc.FlagAvail) != 0;
            // SAFETY: masked into the pending ring.
            _used[(UsedTail + i) & (UsedCapacity - 1)] = new VringUsedElem
            {
                Id = PackedRingLayout.Position(index, wrap) | ((uint)PackedDescriptor.Id(meta) << 16),
                Len = PackedDescriptor.Len(meta),
            };
        }
        UsedTail += n;
        _packedUsed = end;
    }

    /// <summary>Where a packed inline run writes its pending entries (<see cref="UsedTail"/> on), and how many fit before
    /// the pending ring's end (or its capacity).</summary>
    public VringUsedElem* PendingRun(out uint room)
    {
        uint at = UsedTail & (UsedCapacity - 1);
        room = Math.Min(UsedCapacity - at, UsedCapacity - (UsedTail - UsedHead));
        return _used + at;
    }

    /// <summary>
    /// Commits a packed inline run: its <paramref name="k"/> pending entries (written from <see cref="PendingRun"/>
    /// on) and slots (<see cref="CommitRun"/>); <paramref name="end"/> is the used cursor after them.
    /// </summary>
    public void CommitPackedRun(Mbuf** pkts, uint k, PackedCursor end)
    {
        CommitRun(pkts, k, UsedTail);
        UsedTail += k;
        _packedUsed = end;
    }

    /// <summary>
    /// Publishes the <paramref name="n"/> oldest pending entries of a packed ring: ids and lengths, then the flags of
    /// every entry but the first, then the first's (a release store: the driver polls that one, so it sees all or
    /// nothing); the used cursor moves, the written descriptors are marked dirty while logging, and the driver's event
    /// suppression decides one notification. The copies into those buffers completed and were marked before
    /// (<see cref="Publish"/>).
    /// </summary>
    private void PublishPacked(uint n)
    {
        Vring vq = Vring;
        byte* descs = vq.Desc;
        // A ring without pointers (never the case after a settle-first control plane) has nowhere to put them.
        if (!vq.IsTranslated) return;
        uint size = vq.Size, mask = UsedCapacity - 1;
        // Each entry's id and length before its flags (release stores); the first entry's flags last.
        for (uint i = 1; i < n; i++) Write(descs, size, _used[(UsedHead + i) & mask]);
        VringUsedElem first = _used[UsedHead & mask];
        Write(descs, size, first);
        // The used position after the last one published: where the next pending entry sits, or the submits' cursor.
        uint after = UsedHead + n;
        ushort pos = after != UsedTail ? (ushort)_used[after & mask].Id : _packedUsed.Position;
        vq.LastUsedIdx = (ushort)(pos & 0x7FFF);
        vq.UsedWrapCounter = (pos & PackedRingLayout.WrapBit) != 0;
        // Logging: the used descriptors are marked after they were written (as PackedColdPublish).
        if (vq.ActiveLog is { } log)
        {
            uint start = first.Id & 0x7FFF;
            DirtyLogging.PackedUsed(log, vq, &start, vq.LastUsedIdx);
        }
        PackedUsedRing.NotifyIfWanted(Device, vq, pos, VirtioFeatures.Has(Device.Features, VirtioFeatures.RingEventIdx));
    }

    /// <summary>A pending entry into its slot: id and length, then the flags (a release store).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Write(byte* descs, uint size, VringUsedElem e)
    {
        uint index = e.Id & 0x7FFF;
        // SAFETY: the index came from a used cursor of this ring (settled before any resize); checked anyway.
        if (index >= size) return;
        byte* d = PackedDescriptor.At(descs, index);
        PackedDescriptor.WriteUsedIdLen(d, (ushort)(e.Id >> 16), e.Len);
        // The wrap bit of the position selects the used pattern (AVAIL and USED both set, or neither).
        uint pattern = ((e.Id & PackedRingLayout.WrapBit) >> 15) * PackedRingLayout.OwnershipMask;
        PackedUsedRing.StoreFlagsAt(d, pattern | (e.Len != 0 ? VringPackedDesc.FlagWrite : 0u));
    }
}
