namespace HotPath.Engine.Datapath;

/// <summary>
/// The native working memory of one split vring's datapath, sized for its ring when the ring is set up (never in a
/// burst): the shadow used ring, the deferred-copy array, the buffer vector chains are walked into, and the drop
/// reasons of chains inside a mergeable reservation that is not committed yet. One 64-byte aligned block, each
/// array on its own cache lines. Only the burst holding the vring's access lock touches it.
/// </summary>
internal sealed unsafe class SplitScratch : NativeScratch
{
    /// <summary>Pieces a chain may add beyond one per descriptor (buffers crossing memory regions).</summary>
    public const int ExtraPieces = 64;

    public readonly uint RingSize;
    public readonly VringUsedElem* Shadow;   // RingSize entries: a burst consumes at most RingSize chains
    public readonly CopyElem* Batch;
    public readonly int BatchCapacity;       // RingSize, as DPDK's batch_copy_elems
    public readonly BufPiece* Vec;
    public readonly int VecCapacity;         // RingSize + ExtraPieces
    public readonly uint* Pending;           // RingSize entries: head | reason << 16

    public SplitScratch(uint ringSize)
    {
        RingSize = ringSize;
        BatchCapacity = (int)ringSize;
        VecCapacity = (int)ringSize + ExtraPieces;
        nuint shadowBytes = Align((nuint)ringSize * (nuint)sizeof(VringUsedElem));
        nuint batchBytes = Align((nuint)BatchCapacity * (nuint)sizeof(CopyElem));
        nuint vecBytes = Align((nuint)VecCapacity * (nuint)sizeof(BufPiece));
        nuint pendingBytes = Align((nuint)ringSize * sizeof(uint));
        byte* block = Allocate(shadowBytes + batchBytes + vecBytes + pendingBytes);
        Shadow = (VringUsedElem*)block;
        Batch = (CopyElem*)(block + shadowBytes);
        Vec = (BufPiece*)(block + shadowBytes + batchBytes);
        Pending = (uint*)(block + shadowBytes + batchBytes + vecBytes);
    }
}
