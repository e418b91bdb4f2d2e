using HotPath.Fuzz.Split;

namespace HotPath.Fuzz.Core;

/// <summary>A property whose type is hidden behind a uniform run/print interface (for the runner and the quick run).</summary>
public sealed class CatalogEntry
{
    private readonly Func<int, ulong, RunResult> _run;
    private readonly Func<RunResult, string> _regression;

    private CatalogEntry(string name, Func<int, ulong, RunResult> run, Func<RunResult, string> regression)
    {
        Name = name;
        _run = run;
        _regression = regression;
    }

    public string Name { get; }

    public static CatalogEntry For<T>(FuzzProperty<T> p) where T : IFuzzCase =>
        new(p.Name, (cases, seed) => PropertyRun.Run(p, cases, seed), r => PropertyRun.RegressionTest(p, r));

    public RunResult Run(int cases, ulong seed) => _run(cases, seed);

    public string RegressionTest(RunResult r) => _regression(r);

    /// <summary>A failure as the quick run and the long run print it: seed, replay command, shrunk case as a test.</summary>
    public string Report(RunResult r) =>
        $"property '{Name}' failed after {r.Cases} case(s), seed 0x{r.Seed:x} (replay: {r.ReplayHint})\n" +
        $"failure: {r.Failure}\n\n" +
        $"shrunk counterexample as a regression test:\n\n{RegressionTest(r)}\n";
}

/// <summary>Every property of the fuzz suite.</summary>
public static class PropertyCatalog
{
    public static IReadOnlyList<CatalogEntry> All { get; } = new[]
    {
        CatalogEntry.For(new SplitRingProperty()),
        CatalogEntry.For(new Packed.PackedRingProperty()),
        CatalogEntry.For(new Control.ControlProperty()),
        CatalogEntry.For(new Iotlb.IotlbCacheProperty()),
        CatalogEntry.For(new Iotlb.IotlbMessageProperty()),
    };

    public static CatalogEntry Find(string name) =>
        All.FirstOrDefault(p => p.Name == name) ?? throw new ArgumentException($"no property '{name}' (have: {string.Join(", ", All.Select(p => p.Name))})");
}
