
namespace HotPath.Engine.Datapath;

/// <summary>
/// The native working memory of one packed vring's datapath, sized for its ring when the ring is set up (never in a
/// burst): the shadow of the used flags a burst still has to publish, the deferred-copy array, the buffer vector
/// chains are walked into, the used entries of a mergeable packet (and of bad chains met inside it) held until the
/// packet commits, and the inflight entries of the chains the burst took (only while inflight tracking is on). One
/// 64-byte aligned block, each array on its own cache lines. Only the burst holding the vring's access lock touches it.
/// </summary>
internal sealed unsafe class PackedScratch : NativeScratch
{
    /// <summary>Pieces a chain may add beyond one per descriptor (buffers crossing memory regions).</summary>
    public const int ExtraPieces = 64;

    public readonly uint RingSize;
    /// <summary>RingSize entries, one per chain a burst used: ring index | used flags &lt;&lt; 16 (see <see cref="PackedUsedRing"/>).</summary>
    public readonly uint* Shadow;
    public readonly CopyElem* Batch;
    public readonly int BatchCapacity;       // RingSize: at most one deferred copy per chain, RingSize chains per burst
    public readonly BufPiece* Vec;
    public readonly int VecCapacity;         // RingSize + ExtraPieces
    /// <summary>RingSize entries: the buffers of the mergeable packet being placed (<see cref="PackedBurst.Pending"/> words).</summary>
    public readonly ulong* PendingUsed;
    /// <summary>RingSize entries: bad chains met between that packet's buffers (<see cref="PackedBurst.Pending"/> words with a reason).</summary>
    public readonly ulong* PendingBad;
    /// <summary>RingSize entries: the inflight head entry of each chain the burst took, in ring order (<see cref="ColdBurst.Taken"/>).</summary>
    public readonly ushort* TakenEntries;
    /// <summary>Entries in <see cref="TakenEntries"/>; back to 0 when the burst publishes (<see cref="PackedColdPublish"/>).</summary>
    public uint Taken;

    public PackedScratch(uint ringSize)
    {
        RingSize = ringSize;
        BatchCapacity = (int)ringSize;
        VecCapacity = (int)ringSize + ExtraPieces;
        nuint shadowBytes = Align((nuint)ringSize * sizeof(uint));
        nuint batchBytes = Align((nuint)BatchCapacity * (nuint)sizeof(CopyElem));
        nuint vecBytes = Align((nuint)VecCapacity * (nuint)sizeof(BufPiece));
        nuint pendingBytes = Align((nuint)ringSize * sizeof(ulong));
        nuint takenBytes = Align((nuint)ringSize * sizeof(ushort));
        nuint total = shadowBytes + batchBytes + vecBytes + 2 * pendingBytes + takenBytes;
        byte* block = Allocate(total);
        Shadow = (uint*)block;
        Batch = (CopyElem*)(block + shadowBytes);
        Vec = (BufPiece*)(block + shadowBytes + batchBytes);
        PendingUsed = (ulong*)(block + shadowBytes + batchBytes + vecBytes);
        PendingBad = (ulong*)(block + shadowBytes + batchBytes + vecBytes + pendingBytes);
        TakenEntries = (ushort*)(block + shadowBytes + batchBytes + vecBytes + 2 * pendingBytes);
    }
}
