using FsCheck;

namespace HotPath.Fuzz.Core;

/// <summary>A case a property can print as C# that rebuilds it (for the regression test of a counterexample).</summary>
public interface IFuzzCase
{
    /// <summary>A C# expression that constructs this exact case.</summary>
    string ToCode();
}

/// <summary>
/// One property: how its cases are generated and shrunk, and how one case is checked against the reference model.
/// <see cref="Check"/> never throws; an exception from the code under test is a failed verdict.
/// </summary>
public abstract class FuzzProperty<T> where T : IFuzzCase
{
    /// <summary>Short name (the runner's --property value, and the quick-run test name).</summary>
    public abstract string Name { get; }

    /// <summary>Generator and shrinker of cases.</summary>
    public abstract Arbitrary<T> Cases { get; }

    /// <summary>Runs one case on the real code and compares it with the model.</summary>
    public Verdict Check(T c)
    {
        try
        {
            return Run(c);
        }
        catch (ExpectationFailed e)
        {
            return Verdict.Fail(e.Message);
        }
        catch (Exception e)
        {
            return Verdict.Fail($"exception escaped: {e}");
        }
    }

    protected abstract Verdict Run(T c);

    /// <summary>The statement a regression test runs for a case given as C# (e.g. "Assert.True(new X().Check(c).Holds)").</summary>
    public virtual string RegressionBody(string caseCode) =>
        $"var verdict = new {GetType().FullName}().Check({caseCode}); Assert.True(verdict.Holds, verdict.Failure);";
}
