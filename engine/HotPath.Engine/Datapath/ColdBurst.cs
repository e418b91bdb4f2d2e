using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// The one contract both ring types follow for the cold features (<see cref="Vring.ColdFeatures"/>: dirty logging
/// under VHOST_F_LOG_ALL, inflight tracking with an INFLIGHT_SHMFD region):
/// <list type="number">
/// <item>A buffer whose cold work needs its pieces never takes an inline fast path: the inline paths refill their
/// region cache through <see cref="RegionCache.ForInline"/>, which stays empty while such a feature is on, so the
/// buffer goes to the slow path. With every cold feature off the fast paths carry no cold code at all.</item>
/// <item>The slow path walks the chain into pieces, each with the guest address it was translated from
/// (<see cref="BufPiece.Gpa"/>), and reports what it wrote from them: <see cref="Written"/>, after its copies.</item>
/// <item>Publication, one branch per burst on <see cref="Vring.ColdFeatures"/>: <see cref="SplitColdPublish"/> or
/// <see cref="PackedColdPublish"/> logs the used entries and commits the inflight batch around the store that hands
/// the buffers back.</item>
/// </list>
/// Which features need the pieces: a write into guest buffers (RX) needs them for logging. Split inflight tracking
/// does not (its inflight entry is the chain's head, in the shadow used ring).
/// </summary>
internal static unsafe class ColdBurst
{
    /// <summary>Cold features that send split RX buffers to the slow path.</summary>
    public const int SplitWriteNeedsPieces = Vring.ColdLog;

    /// <summary>Cold features that send packed RX chains to the slow path.</summary>
    public const int PackedWriteNeedsPieces = Vring.ColdLog;

    /// <summary>Cold features that send packed TX chains to the slow path (none yet).</summary>
    public const int PackedReadNeedsPieces = 0;

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
}
