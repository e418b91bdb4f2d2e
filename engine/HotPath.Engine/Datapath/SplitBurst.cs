using System.Runtime.CompilerServices;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// What one split-ring burst works with, loaded once from the vring and its scratch at the start of the burst
/// (ring pointers, size, negotiated header size, native arrays), plus the shadow used ring being filled and the
/// deferred copies. Lives on the stack for the duration of one burst and is passed by reference.
/// </summary>
internal unsafe ref struct SplitBurst
{
    public readonly GuestMemory Mem;
    public readonly VringStats Stats;
    public readonly byte* Descs;
    public readonly ushort* AvailRing;
    public readonly uint Size;
    public readonly uint Mask;
    public readonly uint HeaderSize;
    public readonly bool EventIdx;
    public readonly BufPiece* Vec;
    public readonly int VecCap;
    public readonly VringUsedElem* Shadow;
    public readonly uint* Pending;
    public uint NShadow;
    public BatchCopy Batch;

    public SplitBurst(Vring vq, GuestMemory mem, ulong features)
    {
        SplitScratch s = vq.SplitScratch!;
        Mem = mem;
        Stats = vq.Stats;
        Descs = vq.Desc;
        AvailRing = (ushort*)(vq.Avail + SplitRingLayout.AvailRingOffset);
        Size = vq.Size;
        Mask = vq.Size - 1;
        HeaderSize = (uint)VirtioNetHeader.SizeFor(features);
        EventIdx = VirtioFeatures.Has(features, VirtioFeatures.RingEventIdx);
        Vec = s.Vec;
        VecCap = s.VecCapacity;
        Shadow = s.Shadow;
        Pending = s.Pending;
        NShadow = 0;
        Batch = new BatchCopy(s.Batch, s.BatchCapacity);
    }

    /// <summary>
    /// End of a burst: runs the deferred copies, then publishes the shadow used entries (one release store of
    /// used.idx) and notifies the guest if it wants it. The copies go first either way: on enqueue the guest reads
    /// what they wrote, on dequeue it may reuse the buffers they read as soon as it sees them used.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Complete(VhostDevice dev, Vring vq, ushort lastAvail)
    {
        Batch.Flush();
        if (NShadow == 0) return;
        vq.LastUsedIdx = SplitUsedRing.Publish(vq.Used, Size, Shadow, NShadow, vq.LastUsedIdx);
        vq.LastAvailIdx = lastAvail;
        SplitUsedRing.NotifyIfWanted(dev, vq, vq.Avail, vq.LastUsedIdx, EventIdx);
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

    /// <summary>Returns a bad chain to the guest as used with length 0 and counts the reason.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void DropChain(DropReason reason, ushort head)
    {
        Stats.Drop(reason);
        Used(head, 0);
    }

    /// <summary>Drops the bad chains met inside a mergeable reservation that was just committed.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void DropPending(uint n)
    {
        for (uint i = 0; i < n; i++) DropChain((DropReason)(Pending[i] >> 16), (ushort)Pending[i]);
    }
}
