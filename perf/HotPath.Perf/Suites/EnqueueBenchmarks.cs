using BenchmarkDotNet.Attributes;
using HotPath.Perf.Rigs;

namespace HotPath.Perf.Suites;

/// <summary>Device → guest RX bursts of 32 (rte_vhost_enqueue_burst), mergeable or not, indirect or not. Mean is per
/// packet; the frontend's receive (a copy out of the guest buffers) is part of each operation.</summary>
[MemoryDiagnoser]
public class EnqueueBenchmarks
{
    private BurstRig _rig = null!;

    [Params(RingKind.Split, RingKind.Packed)] public RingKind Ring { get; set; }
    [Params(64, 256, 1518, 9000)] public int Size { get; set; }
    [Params(RxLayout.Mergeable, RxLayout.Single, RxLayout.Indirect)] public RxLayout Rx { get; set; }

    [GlobalSetup] public void Setup() => _rig = new BurstRig(Ring, Size, Rx);
    [GlobalCleanup] public void Cleanup() => _rig.Dispose();

    [Benchmark(OperationsPerInvoke = BurstRig.Burst)]
    public int Enqueue() => _rig.EnqueueRound();
}
