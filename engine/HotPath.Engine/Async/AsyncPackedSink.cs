using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;

namespace HotPath.Engine.Async;

/// <summary>
/// How the packed async enqueue writes a packet the packed slow path placed
/// (<see cref="PackedEnqueueSlow.PacketThrough{TSink}"/>): exactly as the split ring's <see cref="AsyncSink"/> (header
/// by the CPU now, data as segments of the queue's current slot), from the packed burst's state.
/// </summary>
internal unsafe struct AsyncPackedSink : IPackedEnqueueSink
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Write(ref PackedBurst c, Mbuf* m, ushort numBuffers, int nVec) =>
        AsyncSink.WritePieces(c.Vq, c.Stats, c.Vec, nVec, c.HeaderSize, m, numBuffers);

    /// <summary>Nothing left to mark (see <see cref="AsyncSink.Written"/>).</summary>
    public static void Written(ref PackedBurst c, int nVec, uint written) { }
}
