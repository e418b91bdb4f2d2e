namespace HotPath.Fuzz.Core;

/// <summary>What one case of a property came to: held, or failed with the first broken expectation.</summary>
public readonly record struct Verdict(bool Holds, string? Failure)
{
    public static readonly Verdict Ok = new(true, null);

    public static Verdict Fail(string failure) => new(false, failure);

    public override string ToString() => Holds ? "ok" : $"failed: {Failure}";
}

/// <summary>
/// Thrown by a property's checks to end the case with a readable failure (<see cref="Expect"/>); the property
/// turns it into a failed <see cref="Verdict"/>. Any other exception escaping the code under test is a failure too.
/// </summary>
public sealed class ExpectationFailed(string message) : Exception(message);

/// <summary>Assertions for properties: they throw <see cref="ExpectationFailed"/> with the context given.</summary>
public static class Expect
{
    public static void True(bool condition, string what)
    {
        if (!condition) throw new ExpectationFailed(what);
    }

    public static void Equal<T>(T expected, T actual, string what)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
            throw new ExpectationFailed($"{what}: expected {expected}, got {actual}");
    }
}
