using BenchmarkDotNet.Attributes;
using HotPath.Engine.Buffers;

namespace HotPath.Perf.Suites;

/// <summary>Mbuf bulk alloc + free of 32 (rte_pktmbuf_alloc_bulk / rte_pktmbuf_free_bulk) through the per-thread
/// cache, or straight from the pool's ring without one. Mean is per mbuf.</summary>
[MemoryDiagnoser]
public unsafe class MempoolBenchmarks
{
    private const int Bulk = 32;
    private Mempool _pool = null!;
    private Mbuf** _mbufs;

    [Params(0u, 256u)] public uint Cache { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pool = Mempool.Create($"bench-mp-{Cache}", 4096, Cache, Mbuf.DefaultHeadroom + 2048, MempoolFlags.NoHuge);
        _mbufs = (Mbuf**)System.Runtime.InteropServices.NativeMemory.AllocZeroed(Bulk, (nuint)sizeof(nint));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        System.Runtime.InteropServices.NativeMemory.Free(_mbufs);
        _pool.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Bulk)]
    public int AllocFreeBulk()
    {
        int rc = MbufOps.AllocBulk(_pool.Header, _mbufs, Bulk);
        MbufOps.FreeBulk(_mbufs, Bulk);
        return rc;
    }
}
