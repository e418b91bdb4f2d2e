using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace HotPath.Perf;

/// <summary>
/// The suites' configuration: workstation non-concurrent GC, the memory diagnoser, markdown and JSON exports, a Mpps
/// column. Jobs: <c>full</c> (BDN's default), <c>quick</c> (ShortRun: 3 warm-ups, 3 iterations) and <c>gate</c>
/// (in-process, 1 warm-up, 1 short iteration: enough for the Allocated column, no timing worth reading).
/// </summary>
public static class PerfConfig
{
    public static IConfig Create(string job, string artifacts)
    {
        Job j = job switch
        {
            "full" => Job.Default,
            "quick" => Job.ShortRun,
            "gate" => Job.Dry.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(1).WithIterationCount(1)
                .WithInvocationCount(2048).WithUnrollFactor(1).WithStrategy(BenchmarkDotNet.Engines.RunStrategy.Throughput),
            _ => throw new ArgumentException($"unknown job '{job}' (full, quick, gate)"),
        };
        j = j.WithGcServer(false).WithGcConcurrent(false).WithId(job);
        return ManualConfig.CreateEmpty()
            .AddJob(j)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddColumn(new MppsColumn())
            .AddExporter(MarkdownExporter.GitHub, JsonExporter.Full)
            .AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default)
            .WithArtifactsPath(artifacts)
            .WithOptions(ConfigOptions.DisableLogFile);
    }
}
