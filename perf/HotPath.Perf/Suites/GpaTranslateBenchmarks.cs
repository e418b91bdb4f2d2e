using BenchmarkDotNet.Attributes;
using HotPath.Engine;
using HotPath.Engine.Memory;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Direct;
using HotPath.Frontend.Memory;

namespace HotPath.Perf.Suites;

/// <summary>Guest physical → host translation over a table of 1, 8 or 64 regions (2 MiB each), 32 addresses spread
/// over every region per operation. Mean is per translation.</summary>
[MemoryDiagnoser]
public unsafe class GpaTranslateBenchmarks
{
    private const int Lookups = 32;
    private FrontendMemory _memory = null!;
    private VhostDevice _device = null!;
    private DirectAttach _attach = null!;
    private GuestMemory _table = null!;
    private readonly ulong[] _gpas = new ulong[Lookups];

    [Params(1, 8, 64)] public int Regions { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _memory = FrontendMemory.Create(Enumerable.Repeat(2UL << 20, Regions).ToArray());
        _device = new VhostDevice();
        _attach = DirectAttach.Create(_device, _memory, VirtioFeatures.Bit(VirtioFeatures.Version1));
        _table = _device.Memory!;
        var r = new Random(Regions);
        for (int i = 0; i < Lookups; i++)
        {
            FrontendMemory.Region region = _memory.Regions[r.Next(Regions)];
            _gpas[i] = region.GuestPhysAddr + (ulong)r.Next(0, (int)region.Size - 2048);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _attach.Dispose();
        _device.Dispose();
        _memory.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public nint Translate()
    {
        nint sum = 0;
        GuestMemory table = _table;
        foreach (ulong gpa in _gpas)
        {
            ulong len = 1518;
            sum += (nint)table.GpaToHost(gpa, ref len);
        }
        return sum;
    }
}
