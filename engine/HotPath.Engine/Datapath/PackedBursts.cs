using HotPath.Engine.Buffers;
using HotPath.Engine.Memory;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Where the packed-ring datapath plugs into <see cref="VhostDevice"/>'s bursts. The packed ring is not written
/// yet: until it is, a burst on a packed ring moves nothing and returns 0, which callers already handle as "no
/// packets" (it is what a burst on an empty ring returns). The packed implementation replaces these two bodies and
/// reuses the ring-independent pieces (<see cref="NetHeaderCodec"/>, <see cref="MbufToGuest"/>,
/// <see cref="BatchCopy"/>, <see cref="GuestPieces"/>, <see cref="GuestNotifier"/>, the stats).
/// </summary>
internal static unsafe class PackedBursts
{
    public static ushort Enqueue(VhostDevice dev, Vring vq, GuestMemory mem, Mbuf** pkts, uint count) => 0;

    public static ushort Dequeue(VhostDevice dev, Vring vq, GuestMemory mem, MempoolHeader* pool, Mbuf** pkts, uint count) => 0;
}
