using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Publication of a packed-ring burst when a cold feature is on (<see cref="Vring.ColdFeatures"/>), the packed half of
/// <see cref="ColdBurst"/>'s contract; the fast path's <see cref="PackedUsedRing.Publish"/> does the same publication
/// without it. Runs after the burst's copies; the slow path already marked the bytes it wrote
/// (<see cref="ColdBurst.Written"/>), before this.
/// <para>Order: the used flags are stored (the first used descriptor last), then the descriptors written back and
/// nothing else are marked dirty (after the writes, as <see cref="SplitColdPublish"/> explains).</para>
/// </summary>
internal static unsafe class PackedColdPublish
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Publish(Vring vq, uint* shadow, uint n, PackedCursor used)
    {
        PackedUsedRing.Publish(vq.Desc, shadow, n);
        if (vq.ActiveLog is { } log) DirtyLogging.PackedUsed(log, vq, shadow, used.Index);
    }
}
