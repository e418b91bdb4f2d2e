using System.Reflection;
using HotPath.Protocol.Control;
using Xunit.Sdk;

[assembly: HotPath.Tests.Infrastructure.CaptureLibraryLog]

namespace HotPath.Tests.Infrastructure;

/// <summary>
/// HotPath's own log lines during the tests (hostile-input tests alone write hundreds of thousands) go to
/// artifacts/test-logs/hotpath-library.log, between "=== begin TYPE.METHOD" and "=== end TYPE.METHOD" markers, instead
/// of the console. Tests run one at a time (AssemblyBehaviour.cs), so a test's section holds its lines (and those the
/// control thread writes a moment late). test.sh prints the sections of the tests that failed, and only those.
/// </summary>
public static class TestLog
{
    private static readonly object s_lock = new();
    private static StreamWriter? s_file;

    /// <summary>The log file (HOTPATH_TEST_LOG overrides it).</summary>
    public static string PathName { get; } = Environment.GetEnvironmentVariable("HOTPATH_TEST_LOG")
        ?? Path.Combine(Requirements.RepoRoot, "artifacts", "test-logs", "hotpath-library.log");

    /// <summary>Routes <see cref="ControlLog"/> here (idempotent).</summary>
    public static void Install()
    {
        lock (s_lock)
        {
            if (s_file != null) return;
            Directory.CreateDirectory(Path.GetDirectoryName(PathName)!);
            s_file = new StreamWriter(PathName, append: false) { AutoFlush = true };
        }
        ControlLog.Sink = (_, line) => Write(line);
    }

    public static void Write(string line)
    {
        lock (s_lock) s_file?.WriteLine(line);
    }
}

/// <summary>Writes each test's begin and end markers into <see cref="TestLog"/>.</summary>
[AttributeUsage(AttributeTargets.Assembly | AttributeTargets.Class | AttributeTargets.Method)]
public sealed class CaptureLibraryLogAttribute : BeforeAfterTestAttribute
{
    public override void Before(MethodInfo methodUnderTest)
    {
        TestLog.Install();
        TestLog.Write($"=== begin {methodUnderTest.DeclaringType?.FullName}.{methodUnderTest.Name}");
    }

    public override void After(MethodInfo methodUnderTest) =>
        TestLog.Write($"=== end {methodUnderTest.DeclaringType?.FullName}.{methodUnderTest.Name}");
}
