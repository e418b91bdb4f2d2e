using System.Diagnostics;
using FsCheck;
using FsCheck.Fluent;

namespace HotPath.Fuzz.Core;

/// <summary>The result of checking one property for a number of cases from one seed.</summary>
public sealed record RunResult(
    string Property, ulong Seed, int Cases, TimeSpan Elapsed, bool Passed, string? Failure, string? ShrunkCase,
    string? OriginalCase, int Shrinks)
{
    public double CasesPerSecond => Cases / Math.Max(Elapsed.TotalSeconds, 1e-9);

    /// <summary>How to rerun exactly this run.</summary>
    public string ReplayHint => $"fuzz/run.sh --property {Property} --seed 0x{Seed:x} --cases {Cases}";
}

/// <summary>
/// Runs a <see cref="FuzzProperty{T}"/> through FsCheck (Check.One with an explicit seed, so a failure can be replayed)
/// and keeps the smallest counterexample FsCheck's shrinking reached: the last case that failed is the shrunk one.
/// </summary>
public static class PropertyRun
{
    /// <summary>Seeds for runs that were not given one: from the clock, never 0.</summary>
    public static ulong NewSeed() => (ulong)Stopwatch.GetTimestamp() * 0x9E37_79B9_7F4A_7C15UL | 1;

    public static RunResult Run<T>(FuzzProperty<T> property, int cases, ulong seed) where T : IFuzzCase
    {
        T? firstFailure = default, lastFailure = default;
        string? lastMessage = null;
        int failures = 0, calls = 0, firstFailureAt = 0;
        Property prop = Prop.ForAll(property.Cases, c =>
        {
            calls++;
            Verdict v = property.Check(c);
            if (!v.Holds)
            {
                if (failures++ == 0)
                {
                    firstFailure = c;
                    firstFailureAt = calls;
                }
                lastFailure = c;
                lastMessage = v.Failure;
            }
            return v.Holds;
        });
        // SplitMix's gamma must be odd; derive it from the seed so one number replays the run.
        ulong gamma = (seed * 0xBF58_476D_1CE4_E5B9UL) | 1;
        Config config = Config.Quick
            .WithMaxTest(cases)
            .WithReplay(seed, gamma)
            .WithQuietOnSuccess(true)
            .WithRunner(new SilentRunner());
        var sw = Stopwatch.StartNew();
        Check.One(config, prop);
        sw.Stop();
        if (failures == 0) return new RunResult(property.Name, seed, cases, sw.Elapsed, true, null, null, null, 0);
        // Cases up to the failing one; the calls after it were shrink steps.
        return new RunResult(property.Name, seed, firstFailureAt, sw.Elapsed, false, lastMessage, lastFailure!.ToCode(),
            firstFailure!.ToCode(), calls - firstFailureAt);
    }

    /// <summary>Prints a failure as a ready-to-paste xunit regression test.</summary>
    public static string RegressionTest<T>(FuzzProperty<T> property, RunResult r) where T : IFuzzCase =>
        $$"""
            // Found by {{r.ReplayHint}} ({{r.Shrinks}} shrink steps). Failure: {{OneLine(r.Failure)}}
            [Fact]
            public void {{Identifier(property.Name)}}_regression_{{r.Seed:x}}()
            {
                var c = {{r.ShrunkCase}};
                {{property.RegressionBody("c")}}
            }
            """;

    private static string OneLine(string? s)
    {
        string t = (s ?? "").ReplaceLineEndings(" ").Trim();
        return t.Length > 400 ? t[..400] + "..." : t;
    }

    private static string Identifier(string name) => new(name.Select(ch => char.IsLetterOrDigit(ch) ? ch : '_').ToArray());
}
