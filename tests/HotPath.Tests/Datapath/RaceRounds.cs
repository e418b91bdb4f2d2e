namespace HotPath.Tests.Datapath;

/// <summary>
/// The loop of a race test against a flipper thread: at least <c>minRounds</c> rounds, and on until the race has
/// produced every outcome the test asserts on, within a deadline. On a loaded 2-core machine the scheduler can keep
/// the flipper off the CPUs for a whole fixed-count run (20,000 rounds took 101 ms and saw one outcome only: a CI
/// failure), so a fixed count made those tests flaky; this makes them wait for what they check.
/// </summary>
internal static class RaceRounds
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    /// <summary>Runs <paramref name="round"/>(i) for i = 0, 1, ... until at least <paramref name="minRounds"/> ran and
    /// <paramref name="allSeen"/> is true (or the deadline passed); returns the number of rounds.</summary>
    public static int Run(int minRounds, Func<bool> allSeen, Action<int> round)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int i = 0;
        for (; i < minRounds || (!allSeen() && clock.Elapsed < Deadline); i++) round(i);
        return i;
    }
}
