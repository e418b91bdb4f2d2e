using System.Diagnostics;
using System.Globalization;
using HotPath.Fuzz.Core;

namespace HotPath.Fuzz.Runner;

/// <summary>
/// The long fuzz run. Usage:
///   HotPath.Fuzz.Runner [--minutes N] [--property NAME]... [--seed S --cases N] [--batch N]
/// Without --seed: round-robin over the properties, batches of --batch cases (default 50) each with a fresh seed, until
/// N minutes (default 1) have passed; every failure is printed with its seed and its shrunk counterexample as an xunit
/// regression test. With --seed: one run of --cases cases of each named property from that seed (a replay).
/// Exit status: 0 nothing found, 1 something failed, 2 bad usage.
/// </summary>
public static class FuzzMain
{
    public static int Run(string[] args)
    {
        double minutes = 1;
        int batch = 50, cases = 200;
        ulong? seed = null;
        var names = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
            try
            {
                switch (a)
                {
                    case "--minutes": minutes = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--property": names.Add(Value()); break;
                    case "--batch": batch = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--cases": cases = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--seed": seed = ParseSeed(Value()); break;
                    default: throw new ArgumentException($"unknown option {a}");
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
            {
                Console.Error.WriteLine($"hotpath-fuzz: {e.Message}");
                Console.Error.WriteLine("usage: run.sh [--minutes N] [--property NAME]... [--batch N] | [--property NAME --seed S --cases N]");
                return 2;
            }
        }
        // The control property's backends log every refusal; a long run wants only errors unless told otherwise.
        if (Environment.GetEnvironmentVariable("HOTPATH_LOG") == null) HotPath.Protocol.Control.ControlLog.Level = HotPath.Protocol.Control.LogLevel.Error;
        IReadOnlyList<CatalogEntry> props = names.Count == 0 ? PropertyCatalog.All : names.Select(PropertyCatalog.Find).ToList();
        return seed is ulong s ? Replay(props, s, cases) : Long(props, TimeSpan.FromMinutes(minutes), batch);
    }

    private static ulong ParseSeed(string s) =>
        s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? ulong.Parse(s[2..], NumberStyles.HexNumber) : ulong.Parse(s, CultureInfo.InvariantCulture);

    private static int Replay(IReadOnlyList<CatalogEntry> props, ulong seed, int cases)
    {
        bool ok = true;
        foreach (CatalogEntry p in props)
        {
            RunResult r = p.Run(cases, seed);
            Console.WriteLine(r.Passed ? $"{p.Name}: {r.Cases} cases from seed 0x{seed:x} passed ({r.CasesPerSecond:F1} cases/s)" : p.Report(r));
            if (!r.Passed) Save(p, r);
            Console.WriteLine($"  exercised: {Coverage.Describe(p.Name + ".")}");
            ok &= r.Passed;
        }
        return ok ? 0 : 1;
    }

    private sealed class Tally
    {
        public long Cases, Batches, Failures;
        public TimeSpan Time;
    }

    private static int Long(IReadOnlyList<CatalogEntry> props, TimeSpan duration, int batch)
    {
        var tallies = props.ToDictionary(p => p.Name, _ => new Tally());
        var loads = new List<double>();
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"hotpath-fuzz: {duration.TotalMinutes:0.##} minute(s), properties {string.Join(", ", props.Select(p => p.Name))}, " +
                          $"batches of {batch} cases, {Environment.ProcessorCount} cpu(s), load {LoadAverage()}");
        var lastReport = TimeSpan.Zero;
        while (clock.Elapsed < duration)
        {
            foreach (CatalogEntry p in props)
            {
                if (clock.Elapsed >= duration) break;
                RunResult r = p.Run(batch, PropertyRun.NewSeed());
                Tally t = tallies[p.Name];
                t.Cases += r.Cases;
                t.Batches++;
                t.Time += r.Elapsed;
                if (!r.Passed)
                {
                    t.Failures++;
                    Console.WriteLine(p.Report(r));
                    Save(p, r);
                }
            }
            if (clock.Elapsed - lastReport >= ReportEvery)
            {
                lastReport = clock.Elapsed;
                loads.Add(LoadAverageValue());
                Console.WriteLine($"[{clock.Elapsed:hh\\:mm\\:ss}] " + string.Join("  ", tallies.Select(kv =>
                    $"{kv.Key}: {kv.Value.Cases} cases {kv.Value.Cases / Math.Max(kv.Value.Time.TotalSeconds, 1e-9):F1}/s {kv.Value.Failures} failed")) +
                    $"  load {LoadAverage()}");
            }
        }
        Console.WriteLine();
        Console.WriteLine($"hotpath-fuzz summary after {clock.Elapsed:hh\\:mm\\:ss} ({Environment.ProcessorCount} cpus; 1-minute load average " +
                          $"{(loads.Count > 0 ? $"min {loads.Min():F1} mean {loads.Average():F1} max {loads.Max():F1}" : LoadAverage())}):");
        foreach ((string name, Tally t) in tallies)
            Console.WriteLine($"  {name,-12} {t.Cases,9} cases in {t.Batches,5} batches  {t.Cases / Math.Max(t.Time.TotalSeconds, 1e-9),8:F1} cases/s  " +
                              $"{t.Failures} failing batch(es)");
        foreach (CatalogEntry p in props) Console.WriteLine($"  {p.Name} exercised: {Coverage.Describe(p.Name + ".")}");
        return tallies.Values.All(t => t.Failures == 0) ? 0 : 1;
    }

    /// <summary>How often the long run prints its progress line.</summary>
    private static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Writes a failure's shrunk counterexample as a ready-to-paste xunit test into $HOTPATH_FUZZ_OUT (default
    /// artifacts/fuzz under the current directory), one file per failing run, and says where.
    /// </summary>
    private static void Save(CatalogEntry p, RunResult r)
    {
        string dir = Environment.GetEnvironmentVariable("HOTPATH_FUZZ_OUT") is { Length: > 0 } d ? d : Path.Combine("artifacts", "fuzz");
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, $"{p.Name}-0x{r.Seed:x}.cs");
        File.WriteAllText(file, p.RegressionTest(r) + Environment.NewLine);
        Console.WriteLine($"counterexample written to {Path.GetFullPath(file)}");
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    private static double LoadAverageValue() =>
        double.TryParse(LoadAverage().Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : 0;
}
