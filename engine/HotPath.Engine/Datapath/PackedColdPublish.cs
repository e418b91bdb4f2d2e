using HotPath.Engine.Inflight;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Publication of a packed-ring burst when a cold feature is on (<see cref="Vring.ColdFeatures"/>), the packed half of
/// <see cref="ColdBurst"/>'s contract; the fast path's <see cref="PackedUsedRing.Publish"/> does the same publication
/// without it. Runs after the burst's copies; the slow path already copied every chain it took into the inflight
/// region (<see cref="ColdBurst.Taken"/>) and marked the bytes it wrote (<see cref="ColdBurst.Written"/>).
/// <para>Order: the inflight batch is returned to the free list and names the new used position; the used flags are
/// stored (the first used descriptor last, a release store); the descriptors written back and nothing else are marked
/// dirty (after the writes, as <see cref="SplitColdPublish"/> explains); the inflight batch is cleared and committed
/// (<see cref="InflightPackedInOrder"/> says why a backend killed between any two steps loses and repeats nothing).</para>
/// </summary>
internal static unsafe class PackedColdPublish
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Publish(Vring vq, uint* shadow, uint n, PackedCursor used)
    {
        PackedScratch s = vq.PackedScratch!;
        InflightQueue? inflight = (vq.ColdFeatures & Vring.ColdInflight) != 0 ? vq.Inflight : null;
        if (inflight != null) InflightPackedInOrder.Publishing(inflight, s.TakenEntries, s.Taken, used.Index, used.Wrap);
        PackedUsedRing.Publish(vq.Desc, shadow, n, PackedUsedRing.DirectNever);
        if (vq.ActiveLog is { } log) DirtyLogging.PackedUsed(log, vq, shadow, used.Index);
        if (inflight != null) InflightPackedInOrder.Published(inflight, s.TakenEntries, s.Taken);
        s.Taken = 0;
    }
}
