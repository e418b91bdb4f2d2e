using System.Collections.Concurrent;
using System.Diagnostics;

namespace HotPath.Tests.Infrastructure;

/// <summary>
/// A vhost-user backend in a child process (hp-test-backend, built with the tests, or a program from artifacts/),
/// with its output collected, so a test can kill it with a real signal and start another.
/// </summary>
public sealed class ChildBackend : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private ChildBackend(Process process) => _process = process;

    /// <summary>hp-test-backend (tests/HotPath.TestBackend), copied beside the test assembly.</summary>
    public static string TestBackendPath => Path.Combine(AppContext.BaseDirectory, "hp-test-backend");

    public static ChildBackend Start(string program, params string[] args) => Start(program, new Dictionary<string, string>(), args);

    /// <summary><see cref="Start(string, string[])"/> with <paramref name="env"/> added to the child's environment.</summary>
    public static ChildBackend Start(string program, IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        foreach ((string k, string v) in env) psi.Environment[k] = v;
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {program}");
        var child = new ChildBackend(p);
        p.OutputDataReceived += (_, e) => { if (e.Data != null) child._lines.Enqueue(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) child._lines.Enqueue(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return child;
    }

    /// <summary>artifacts/bin/hp-fwd in server mode on a new socket (<paramref name="socket"/>), forwarding in
    /// <paramref name="mode"/> with its live rates off; returns once the socket exists.</summary>
    public static ChildBackend StartFwd(string tag, string mode, out string socket)
    {
        string fwd = Artifacts.Program("bin/hp-fwd");
        socket = Path.Combine(Path.GetTempPath(), $"hp-{tag}-{Environment.ProcessId}.sock");
        File.Delete(socket);
        ChildBackend child = Start(fwd, "--socket", socket, "--mode", mode, "--stats-interval", "0");
        string path = socket;
        if (!SpinWait.SpinUntil(() => File.Exists(path) || child.HasExited, TimeSpan.FromSeconds(30)) || child.HasExited)
        {
            string output = string.Join('\n', child.Output);
            child.Dispose();
            Assert.Fail($"hp-fwd did not create {path}:\n{output}");
        }
        return child;
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything the child printed so far (stdout and stderr).</summary>
    public IReadOnlyList<string> Output => _lines.ToArray();

    /// <summary>Waits until a line containing <paramref name="text"/> was printed.</summary>
    public bool WaitForLine(string text, TimeSpan timeout) =>
        SpinWait.SpinUntil(() => _lines.Any(l => l.Contains(text, StringComparison.Ordinal)) || _process.HasExited, timeout)
        && _lines.Any(l => l.Contains(text, StringComparison.Ordinal));

    /// <summary>
    /// The first output line from index <paramref name="from"/> on (lines printed after the caller read
    /// <see cref="Output"/>.Count) that contains <paramref name="text"/>, or null after the timeout.
    /// </summary>
    public string? WaitForLineAfter(int from, string text, TimeSpan timeout)
    {
        string? Find() => _lines.ToArray().Skip(from).FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
        SpinWait.SpinUntil(() => Find() != null || _process.HasExited, timeout);
        return Find();
    }

    /// <summary>SIGKILL (sent at once, with kill(2)), then waits for the process to be gone.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        // SIGKILL: no handler, no cleanup runs in the child; it stops wherever its threads are.
        if (SendSignal(_process.Id, SigKill) != 0) _process.Kill();
        _process.WaitForExit();
    }

    private const int SigKill = 9;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    private bool _disposed;

    /// <summary>Asks the child to stop (closes its stdin), then kills it if it does not. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                if (!_process.WaitForExit(5000)) Kill();
            }
            _process.WaitForExit();
        }
        finally { _process.Dispose(); }
    }
}
