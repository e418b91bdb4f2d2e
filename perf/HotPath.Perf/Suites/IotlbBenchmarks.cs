using BenchmarkDotNet.Attributes;
using HotPath.Perf.Rigs;

namespace HotPath.Perf.Suites;

/// <summary>
/// The cost of VIRTIO_F_IOMMU_PLATFORM: bursts of 32 with every guest address an IOVA translated through the IOTLB
/// (one mapping per region, IOVA = GPA, read-write), against the same rig without it, split and packed. Mean is per
/// packet.
/// </summary>
[MemoryDiagnoser]
public class IotlbBenchmarks
{
    private BurstRig _rig = null!;

    [Params(RingKind.Split, RingKind.Packed)] public RingKind Ring { get; set; }
    [Params(64, 1518)] public int Size { get; set; }
    [Params(false, true)] public bool Iotlb { get; set; }

    [GlobalSetup] public void Setup() => _rig = new BurstRig(Ring, Size, iotlb: Iotlb);
    [GlobalCleanup] public void Cleanup() => _rig.Dispose();

    [Benchmark(OperationsPerInvoke = BurstRig.Burst)]
    public int Dequeue() => _rig.DequeueRound();

    [Benchmark(OperationsPerInvoke = BurstRig.Burst)]
    public int Enqueue() => _rig.EnqueueRound();
}
