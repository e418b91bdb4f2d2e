using System.Collections.Concurrent;

namespace HotPath.Fuzz.Core;

/// <summary>
/// What the cases actually exercised (drop reasons the model saw, packets delivered, rings broken, messages refused...),
/// counted across a run so the long run can show that the generators reach every case they claim to.
/// </summary>
public static class Coverage
{
    private static readonly ConcurrentDictionary<string, long> s_counts = new();

    public static void Hit(string what, long n = 1) => s_counts.AddOrUpdate(what, n, (_, v) => v + n);

    public static IReadOnlyDictionary<string, long> Snapshot() => new SortedDictionary<string, long>(s_counts);

    public static void Reset() => s_counts.Clear();

    public static string Describe(string prefix) =>
        string.Join(", ", Snapshot().Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .Select(kv => $"{kv.Key[prefix.Length..]}={kv.Value}"));
}
