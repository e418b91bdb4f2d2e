using HotPath.Engine.Buffers;

namespace HotPath.Fuzz.Core;

/// <summary>
/// The mbuf pool the datapath properties share (normal pages, 2 KiB of data room, a per-thread cache). Every case must
/// give every mbuf back: a case starts and ends with the pool empty, which is the leak check.
/// </summary>
internal static class FuzzPools
{
    public const ushort DataRoom = Mbuf.DefaultHeadroom + 2048;
    public const int MbufRoom = 2048;

    private static readonly Lazy<Mempool> s_pool =
        new(() => Mempool.Create($"fuzz{Environment.ProcessId}", 8192, 64, DataRoom, MempoolFlags.NoHuge));

    public static Mempool Shared => s_pool.Value;
}
