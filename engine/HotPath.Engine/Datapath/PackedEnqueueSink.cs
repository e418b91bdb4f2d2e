using HotPath.Engine.Buffers;

namespace HotPath.Engine.Datapath;

/// <summary>
/// How the packed enqueue slow path writes a packet it placed into the walked pieces <c>c.Vec[0..nVec)</c>: the
/// packed form of <see cref="IEnqueueSink"/> (same contract, the packed burst's state).
/// </summary>
internal unsafe interface IPackedEnqueueSink
{
    static abstract uint Write(ref PackedBurst c, Mbuf* m, ushort numBuffers, int nVec);

    static abstract void Written(ref PackedBurst c, int nVec, uint written);
}

/// <summary>The synchronous packed enqueue's sink: everything copied at once (<see cref="MbufToGuest.WritePacket"/>), then marked.</summary>
internal unsafe struct PackedSyncSink : IPackedEnqueueSink
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Write(ref PackedBurst c, Mbuf* m, ushort numBuffers, int nVec) =>
        MbufToGuest.WritePacket(m, numBuffers, c.Vec, nVec, c.HeaderSize);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Written(ref PackedBurst c, int nVec, uint written) => c.Written(nVec, written);
}
