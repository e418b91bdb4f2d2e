using HotPath.Engine.Buffers;

namespace HotPath.Engine.Datapath;

/// <summary>
/// How the split enqueue slow path writes a packet it placed into the walked pieces <c>c.Vec[0..nVec)</c>: header and
/// data, and the dirty-log marks of what it wrote. Returns the bytes the packet occupies, header included (the used
/// length). A struct type argument, so each sink gets its own specialised copy of the slow path.
/// </summary>
internal unsafe interface IEnqueueSink
{
    static abstract uint Write(ref SplitBurst c, Mbuf* m, ushort numBuffers, int nVec);
}

/// <summary>The synchronous enqueue's sink: everything copied at once (<see cref="MbufToGuest.WritePacket"/>), then marked.</summary>
internal unsafe struct SyncSink : IEnqueueSink
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Write(ref SplitBurst c, Mbuf* m, ushort numBuffers, int nVec)
    {
        uint written = MbufToGuest.WritePacket(m, numBuffers, c.Vec, nVec, c.HeaderSize);
        c.Written(nVec, written);
        return written;
    }
}
