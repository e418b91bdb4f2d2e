using BenchmarkDotNet.Attributes;
using HotPath.Perf.Rigs;

namespace HotPath.Perf.Suites;

/// <summary>The cost of dirty logging (LOG_ALL with a log installed, as during live migration) on 64 B bursts.</summary>
[MemoryDiagnoser]
public class DirtyLogBenchmarks
{
    private BurstRig _rig = null!;

    [Params(RingKind.Split, RingKind.Packed)] public RingKind Ring { get; set; }
    [Params(false, true)] public bool Logging { get; set; }

    [GlobalSetup] public void Setup() => _rig = new BurstRig(Ring, 64, logging: Logging);
    [GlobalCleanup] public void Cleanup() => _rig.Dispose();

    [Benchmark(OperationsPerInvoke = BurstRig.Burst)]
    public int Dequeue() => _rig.DequeueRound();

    [Benchmark(OperationsPerInvoke = BurstRig.Burst)]
    public int Enqueue() => _rig.EnqueueRound();
}
