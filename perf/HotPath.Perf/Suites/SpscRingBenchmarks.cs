using BenchmarkDotNet.Attributes;
using HotPath.Engine.Rings;

namespace HotPath.Perf.Suites;

/// <summary>Ring burst enqueue then dequeue of 32 pointers on one thread, single-producer/single-consumer or
/// multi-producer/multi-consumer (rte_ring_enqueue_burst / rte_ring_dequeue_burst). Mean is per object.</summary>
[MemoryDiagnoser]
public class SpscRingBenchmarks
{
    private const int BurstSize = 32;
    private Ring _ring = null!;
    private readonly nint[] _objs = Enumerable.Range(1, BurstSize).Select(i => (nint)(i * 64)).ToArray();
    private readonly nint[] _out = new nint[BurstSize];

    [Params(RingFlags.SpEnq | RingFlags.ScDeq, RingFlags.None)] public RingFlags Flags { get; set; }

    [GlobalSetup] public void Setup() => _ring = Ring.Create($"bench-ring-{(uint)Flags}", 1024, Flags);
    [GlobalCleanup] public void Cleanup() => _ring.Dispose();

    [Benchmark(OperationsPerInvoke = BurstSize)]
    public uint EnqueueDequeueBurst()
    {
        uint n = _ring.EnqueueBurst(_objs);
        return n + _ring.DequeueBurst(_out);
    }
}
