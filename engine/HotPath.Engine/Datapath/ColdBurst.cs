using HotPath.Engine.Inflight;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// The one contract both ring types follow for the cold features (<see cref="Vring.ColdFeatures"/>: dirty logging
/// under VHOST_F_LOG_ALL, inflight tracking with an INFLIGHT_SHMFD region):
/// <list type="number">
/// <item>A buffer whose cold work needs the slow path never takes an inline fast path: the inline paths refill their
/// region cache through <see cref="RegionCache.ForInline"/>, which stays empty while such a feature is on, so the
/// buffer goes to the slow path. With every cold feature off the fast paths carry no cold code at all.</item>
/// <item>The slow path walks the chain into pieces, each with the guest address it was translated from
/// (<see cref="BufPiece.Gpa"/>), and reports what it took (<see cref="Taken"/>, packed rings, before the used entry
/// is written over the head) and what it wrote (<see cref="Written"/>, after its copies).</item>
/// <item>Publication, one branch per burst on <see cref="Vring.ColdFeatures"/>: <see cref="SplitColdPublish"/> or
/// <see cref="PackedColdPublish"/> logs the used entries and commits the inflight batch around the store that hands
/// the buffers back.</item>
/// </list>
/// Which features need the slow path: a write into guest buffers (RX) needs the pieces for logging; packed inflight
/// tracking needs every chain, both ways, because the inline paths write the used id and length over the head
/// descriptor before anything could copy it into the region. Split inflight tracking needs neither (its inflight
/// entry is the chain's head, taken from the shadow used ring at publication; the ring's descriptors stay intact).
/// </summary>
internal static unsafe class ColdBurst
{
    /// <summary>Cold features that send split RX buffers to the slow path.</summary>
    public const int SplitWriteNeedsPieces = Vring.ColdLog;

    /// <summary>Cold features that send packed RX chains to the slow path.</summary>
    public const int PackedWriteNeedsPieces = Vring.ColdLog | Vring.ColdInflight;

    /// <summary>Cold features that send packed TX chains to the slow path.</summary>
    public const int PackedReadNeedsPieces = Vring.ColdInflight;

    /// <summary>
    /// The slow path wrote the first <paramref name="bytes"/> bytes of <paramref name="vec"/>[0..nVec) (header
    /// included): marks their pages in the dirty log while logging is on. Call after the copies (a bit set before
    /// its write could be synced and cleared while the page still held the old bytes) and before publication.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Written(Vring vq, BufPiece* vec, int nVec, ulong bytes)
    {
        if (vq.ActiveLog is { } log) DirtyLogging.Pieces(log, vq.Stats, vec, nVec, bytes);
    }

    /// <summary>
    /// A packed slow path takes the chain of <paramref name="descs"/> ring descriptors at slot <paramref name="head"/>
    /// and will return it used in this burst: while inflight tracking is on, the chain is copied into the region now,
    /// before its used entry is written over the head (<see cref="InflightPackedInOrder"/>). Call once per chain, in
    /// ring order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Taken(Vring vq, uint head, uint descs)
    {
        if ((vq.ColdFeatures & Vring.ColdInflight) != 0) TakeInflight(vq, head, descs);
    }

    /// <summary>How many chains the burst has taken so far (a mark for <see cref="Untake"/>).</summary>
    public static uint TakenMark(Vring vq) => vq.PackedScratch!.Taken;

    /// <summary>The chains taken since <paramref name="mark"/> stay in the ring: a mergeable packet did not fit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Untake(Vring vq, uint mark)
    {
        if ((vq.ColdFeatures & Vring.ColdInflight) != 0) UntakeInflight(vq, mark);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void TakeInflight(Vring vq, uint head, uint descs)
    {
        PackedScratch s = vq.PackedScratch!;
        // A chain the region cannot hold (smaller than the ring, or a free list a frontend broke) goes untracked.
        if (s.Taken < s.RingSize && InflightPacked.TakeChain(vq.Inflight!, (VringPackedDesc*)vq.Desc, head, descs, out ushort e))
            s.TakenEntries[s.Taken++] = e;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void UntakeInflight(Vring vq, uint mark)
    {
        PackedScratch s = vq.PackedScratch!;
        if (mark >= s.Taken) return;
        InflightPackedInOrder.Untake(vq.Inflight!, s.TakenEntries + mark, s.Taken - mark);
        s.Taken = mark;
    }
}
