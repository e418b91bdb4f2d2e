using BenchmarkDotNet.Attributes;
using HotPath.Perf.Rigs;

namespace HotPath.Perf.Suites;

/// <summary>Guest TX → device bursts of 32 (rte_vhost_dequeue_burst). Mean is per packet.</summary>
[MemoryDiagnoser]
public class DequeueBenchmarks
{
    private BurstRig _rig = null!;

    [Params(RingKind.Split, RingKind.Packed)] public RingKind Ring { get; set; }
    [Params(64, 256, 1518, 9000)] public int Size { get; set; }
    [Params(false, true)] public bool Indirect { get; set; }

    [GlobalSetup] public void Setup() => _rig = new BurstRig(Ring, Size, indirectTx: Indirect);
    [GlobalCleanup] public void Cleanup() => _rig.Dispose();

    [Benchmark(OperationsPerInvoke = BurstRig.Burst)]
    public int Dequeue() => _rig.DequeueRound();
}
