using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// What the split-ring slow paths work with: ring pointers, size, header size and native arrays loaded from the
/// vring and its scratch, plus the burst's shadow used count. Built on the stack when a slow path starts.
/// </summary>
internal unsafe ref struct SplitBurst
{
    public readonly Vring Vq;
    public readonly GuestMemory Mem;
    public readonly VringStats Stats;
    public readonly byte* Descs;
    public readonly ushort* AvailRing;
    public readonly uint Size;
    public readonly uint Mask;
    public readonly uint HeaderSize;
    public readonly BufPiece* Vec;
    public readonly int VecCap;
    public readonly VringUsedElem* Shadow;
    public readonly uint* Pending;
    public uint NShadow;

    public SplitBurst(VhostDevice dev, Vring vq, GuestMemory mem, ulong features, uint nShadow)
    {
        SplitScratch s = vq.SplitScratch!;
        Vq = vq;
        Mem = mem;
        Stats = vq.Stats;
        Descs = vq.Desc;
        AvailRing = (ushort*)(vq.Avail + SplitRingLayout.AvailRingOffset);
        Size = vq.Size;
        Mask = vq.Size - 1;
        HeaderSize = (uint)VirtioNetHeader.SizeFor(features);
        Vec = s.Vec;
        VecCap = s.VecCapacity;
        Shadow = s.Shadow;
        Pending = s.Pending;
        NShadow = nShadow;
    }

    /// <summary>Queues a used entry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Used(ushort head, uint len)
    {
        // SAFETY: a burst consumes at most Size chains (avail - last_avail <= Size), the shadow holds Size entries.
        VringUsedElem* e = Shadow + NShadow++;
        e->Id = head;
        e->Len = len;
    }

    /// <summary>The first <paramref name="bytes"/> bytes of the vector's first <paramref name="nVec"/> pieces were written (<see cref="ColdBurst.Written"/>).</summary>
    public readonly void Written(int nVec, ulong bytes) => ColdBurst.Written(Vq, Vec, nVec, bytes);

    /// <summary>Returns a bad chain to the guest as used with length 0 and counts the reason.</summary>
    public void DropChain(DropReason reason, ushort head)
    {
        Stats.Drop(reason);
        Used(head, 0);
    }

    /// <summary>Drops the bad chains met inside a mergeable reservation that was just committed.</summary>
    public void DropPending(uint n)
    {
        for (uint i = 0; i < n; i++) DropChain((DropReason)(Pending[i] >> 16), (ushort)Pending[i]);
    }
}
