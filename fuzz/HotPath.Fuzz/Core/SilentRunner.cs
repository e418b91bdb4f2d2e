using FsCheck;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace HotPath.Fuzz.Core;

/// <summary>
/// An FsCheck runner that prints nothing: <see cref="PropertyRun"/> reports results itself (seed, throughput,
/// shrunk case as a regression test).
/// </summary>
internal sealed class SilentRunner : IRunner
{
    public void OnStartFixture(Type t)
    {
    }

    public void OnArguments(int ntest, FSharpList<object> args, FSharpFunc<int, FSharpFunc<FSharpList<object>, string>> every)
    {
    }

    public void OnShrink(FSharpList<object> args, FSharpFunc<FSharpList<object>, string> everyShrink)
    {
    }

    public void OnFinished(string name, TestResult testResult)
    {
    }
}
