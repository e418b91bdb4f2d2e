using BenchmarkDotNet.Running;
using HotPath.Perf;

// Usage: HotPath.Perf [--perf-job full|quick|gate] [--perf-out DIR] [BenchmarkDotNet arguments, e.g. --filter '*Dequeue*']
string job = "full", output = Path.Combine(Directory.GetCurrentDirectory(), "BenchmarkDotNet.Artifacts");
var rest = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--perf-job" && i + 1 < args.Length) job = args[++i];
    else if (args[i] == "--perf-out" && i + 1 < args.Length) output = args[++i];
    else rest.Add(args[i]);
}
if (!rest.Contains("--filter")) rest.AddRange(new[] { "--filter", "*" });
var summaries = BenchmarkSwitcher.FromAssembly(typeof(PerfConfig).Assembly).Run(rest.ToArray(), PerfConfig.Create(job, output));
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
