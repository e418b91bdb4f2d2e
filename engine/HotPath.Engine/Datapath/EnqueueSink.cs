using HotPath.Engine.Buffers;

namespace HotPath.Engine.Datapath;

/// <summary>
/// How the split enqueue slow path writes a packet it placed into the walked pieces <c>c.Vec[0..nVec)</c>:
/// <see cref="Write"/> puts header and data there and returns the bytes the packet occupies, header included (the used
/// length); <see cref="Written"/> then marks what was written in the dirty log. A struct type argument, so each sink
/// gets its own specialised copy of the slow path (the synchronous one's is the code it had before sinks).
/// </summary>
internal unsafe interface IEnqueueSink
{
    static abstract uint Write(ref SplitBurst c, Mbuf* m, ushort numBuffers, int nVec);

    static abstract void Written(ref SplitBurst c, int nVec, uint written);
}

/// <summary>The synchronous enqueue's sink: everything copied at once (<see cref="MbufToGuest.WritePacket"/>), then marked.</summary>
internal unsafe struct SyncSink : IEnqueueSink
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Write(ref SplitBurst c, Mbuf* m, ushort numBuffers, int nVec) =>
        MbufToGuest.WritePacket(m, numBuffers, c.Vec, nVec, c.HeaderSize);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Written(ref SplitBurst c, int nVec, uint written) => c.Written(nVec, written);
}
