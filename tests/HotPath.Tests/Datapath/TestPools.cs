using HotPath.Engine.Buffers;

namespace HotPath.Tests.Datapath;

internal static class TestPools
{
    private static int s_seq;

    /// <summary>A normal-page pool of 2 KiB mbufs (plus headroom) with a per-thread cache.</summary>
    public static Mempool Create(uint count = 2048, ushort dataRoom = Mbuf.DefaultHeadroom + 2048, uint cache = 64) =>
        Mempool.Create($"dp{Interlocked.Increment(ref s_seq)}", count, Math.Min(cache, count / 4), dataRoom, MempoolFlags.NoHuge);
}
