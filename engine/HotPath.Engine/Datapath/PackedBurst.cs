using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// What the packed enqueue slow path works with: ring pointers, size, header size and native arrays loaded from the
/// vring and its scratch, plus the burst's cursors and shadow count, which it moves and hands back. Built on the
/// stack when a slow path starts.
/// </summary>
internal unsafe ref struct PackedBurst
{
    public readonly GuestMemory Mem;
    public readonly VringStats Stats;
    public readonly byte* Descs;
    public readonly uint Size;
    public readonly uint HeaderSize;
    public readonly BufPiece* Vec;
    public readonly int VecCap;
    public readonly uint* Shadow;
    public readonly ulong* PendingUsed;
    public readonly ulong* PendingBad;
    public readonly Vring Vq;
    /// <summary>Shadow entries the burst may fill: the ring size, or (IOTLB bursts) the chains it checked are mapped.</summary>
    public readonly uint Limit;
    public PackedCursor Avail;
    public PackedCursor Used;
    public uint NShadow;
    /// <summary>The burst's <see cref="PackedUsedRing.DirectFrom"/>.</summary>
    public readonly uint DirectFrom;

    public PackedBurst(VhostDevice dev, Vring vq, GuestMemory mem, ulong features, PackedCursor avail, PackedCursor used, uint nShadow,
        uint limit, uint directFrom)
    {
        Vq = vq;
        Limit = limit;
        PackedScratch s = vq.PackedScratch!;
        Mem = mem;
        Stats = vq.Stats;
        Descs = vq.Desc;
        Size = vq.Size;
        HeaderSize = (uint)VirtioNetHeader.SizeFor(features);
        Vec = s.Vec;
        VecCap = s.VecCapacity;
        Shadow = s.Shadow;
        PendingUsed = s.PendingUsed;
        PendingBad = s.PendingBad;
        Avail = avail;
        Used = used;
        NShadow = nShadow;
        DirectFrom = directFrom;
    }

    /// <summary>Chains the burst can still return used: one lap per burst (the shadow's size), or fewer (<see cref="Limit"/>).</summary>
    public readonly uint Room => Limit - NShadow;

    /// <summary>
    /// The head at the avail cursor, read once (acquire): its meta word, or false when the driver has not made it
    /// available (out of guest buffers: not an error).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool TryHead(out ulong meta)
    {
        // SAFETY: Avail.Index < Size, inside the translated ring.
        meta = PackedDescriptor.ReadMeta(PackedDescriptor.At(Descs, Avail.Index));
        return PackedDescriptor.IsAvail(meta, Avail.Pattern);
    }

    /// <summary>Walks the chain at the avail cursor (head meta already read) into the vector from <paramref name="nVec"/>.</summary>
    public readonly PackedWalk Walk(ulong meta, ushort writeFlag, int nVec) =>
        PackedChainWalker.Walk(Mem, Descs, Size, Avail, meta, writeFlag, Vec, VecCap, nVec);

    /// <summary>The chain just walked at the avail cursor will be returned used (<see cref="ColdBurst.Taken"/>).</summary>
    public readonly void Taken(PackedWalk w) => ColdBurst.Taken(Vq, Avail.Index, w.Descs);

    /// <summary>Returns a chain of <paramref name="descs"/> descriptors used with <paramref name="len"/> bytes written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Use(ushort id, uint len, uint descs)
    {
        // SAFETY: NShadow < Size (callers check Room first); Used.Index < Size.
        PackedUsedRing.Add(Descs, Shadow, NShadow++, DirectFrom, Used.Index, Used.Pattern, id, len);
        Used.Advance(descs, Size);
    }

    /// <summary>Returns a bad chain used with length 0 and counts the reason.</summary>
    public void Drop(DropReason reason, ushort id, uint descs)
    {
        Stats.Drop(reason);
        Use(id, 0, descs);
    }

    /// <summary>The first <paramref name="bytes"/> bytes of the vector's first <paramref name="nVec"/> pieces were written (<see cref="ColdBurst.Written"/>).</summary>
    public readonly void Written(int nVec, ulong bytes) => ColdBurst.Written(Vq, Vec, nVec, bytes);

    /// <summary>A pending chain record: id | descriptors &lt;&lt; 16 | (length or reason) &lt;&lt; 32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Pending(ushort id, ushort descs, uint value) => id | ((ulong)descs << 16) | ((ulong)value << 32);
}
