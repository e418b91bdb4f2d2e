namespace HotPath.Engine.Inflight;

/// <summary>
/// Inflight tracking of one vring in its queue region of an <see cref="InflightRegion"/>: where the region is, how
/// many of its entries may be indexed, the global counter that orders the heads taken from the ring, and the
/// resubmit list built when the ring started on a region a previous backend had tracked into.
/// <para>Every index into the region is checked against <see cref="Entries"/>, the smaller of the region's queue
/// size (what was mapped) and the ring size, never against the desc_num the shared header claims (SECURITY.md 7).
/// Used only with the vring's access lock held (the datapath holds it for a burst, the control plane and the C API
/// take it), so the region cannot be unmapped underneath.</para>
/// </summary>
public sealed unsafe class InflightQueue : IDisposable
{
    private ResubmitInfo* _resubmit;

    private InflightQueue(byte* queue, uint entries, uint ringSize, bool packed)
    {
        Queue = queue;
        Entries = entries;
        RingSize = ringSize;
        Packed = packed;
    }

    /// <summary>The queue region: a header, then one state entry per descriptor.</summary>
    public byte* Queue { get; }

    /// <summary>State entries that may be indexed: every index is below it.</summary>
    public uint Entries { get; }

    /// <summary>Size of the vring (the modulus of packed ring positions).</summary>
    public uint RingSize { get; }

    public bool Packed { get; }

    /// <summary>Counter given to the next head taken from the ring (DPDK's vq->global_counter).</summary>
    public ulong GlobalCounter;

    /// <summary>The entries found inflight when the ring started, highest counter first (DPDK's order); null when none.</summary>
    public ResubmitInfo* Resubmit => _resubmit;

    /// <summary>
    /// Tracking of vring <paramref name="vringIndex"/> of <paramref name="ringSize"/> entries in
    /// <paramref name="region"/>; null when the region has no queue for it, or is for the other ring layout.
    /// </summary>
    public static InflightQueue? For(InflightRegion region, int vringIndex, uint ringSize, bool packed)
    {
        byte* q = region.Queue(vringIndex);
        if (q == null || ringSize == 0 || region.Packed != packed) return null;
        return new InflightQueue(q, Math.Min(region.QueueSize, ringSize), ringSize, packed);
    }

    internal InflightSplitHeader* SplitHeader => (InflightSplitHeader*)Queue;
    internal InflightSplitDesc* SplitDescs => (InflightSplitDesc*)(Queue + InflightRegion.SplitHeaderSize);
    internal InflightPackedHeader* PackedHeader => (InflightPackedHeader*)Queue;
    internal InflightPackedDesc* PackedDescs => (InflightPackedDesc*)(Queue + InflightRegion.PackedHeaderSize);

    /// <summary>
    /// Collects every entry whose inflight byte is 1 into a malloc'ed resubmit list, highest counter first, and sets
    /// the global counter past the highest. Split and packed entries both hold inflight at offset 0 and the counter
    /// at offset 8; they differ in stride. Returns how many were found.
    /// </summary>
    internal int BuildResubmit()
    {
        FreeResubmit();
        byte* descs = Packed ? (byte*)PackedDescs : (byte*)SplitDescs;
        int stride = Packed ? InflightRegion.PackedDescSize : InflightRegion.SplitDescSize;
        int n = 0;
        for (uint i = 0; i < Entries; i++)
            if (descs[i * stride] == 1) n++;
        GlobalCounter = 0;
        if (n == 0) return 0;
        var list = (ResubmitDesc*)NativeMemory.Alloc((nuint)n, (nuint)sizeof(ResubmitDesc));   // malloc: see Resubmit
        int k = 0;
        for (uint i = 0; i < Entries && k < n; i++)
        {
            // Each entry is read once; one the frontend flipped since the count above is simply left out.
            byte* e = descs + i * stride;
            if (e[0] != 1) continue;
            list[k++] = new ResubmitDesc { Index = (ushort)i, Counter = Volatile.Read(ref *(ulong*)(e + 8)) };
        }
        var span = new Span<ResubmitDesc>(list, k);
        span.Sort(static (a, b) => b.Counter.CompareTo(a.Counter));
        _resubmit = (ResubmitInfo*)NativeMemory.AllocZeroed((nuint)sizeof(ResubmitInfo));
        _resubmit->List = list;
        _resubmit->Num = (ushort)k;
        GlobalCounter = k == 0 ? 0 : list[0].Counter + 1;
        return k;
    }

    private void FreeResubmit()
    {
        if (_resubmit == null) return;
        // An application may free() the list itself once it resubmitted it (DPDK's vhost_blk example does) and then
        // sets the pointer to NULL; a list still there is ours to free.
        if (_resubmit->List != null) NativeMemory.Free(_resubmit->List);
        NativeMemory.Free(_resubmit);
        _resubmit = null;
    }

    public void Dispose() => FreeResubmit();
}
