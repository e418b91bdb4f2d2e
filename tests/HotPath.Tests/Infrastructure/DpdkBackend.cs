using System.Diagnostics;
using System.Runtime.InteropServices;

namespace HotPath.Tests.Infrastructure;

/// <summary>
/// DPDK's own vhost-user backend (dpdk-testpmd with the net_vhost PMD), started and stopped by a test. Its output is
/// collected line by line so a test can wait for, count and parse what DPDK logged ("virtio is now ready for
/// processing.", "negotiated Virtio features: 0x...", ...). Each run has its own --file-prefix; disposing stops
/// testpmd with SIGINT (SIGKILL after 5 s) and removes its socket and runtime directory.
/// Use from tests marked [DpdkFact]/[DpdkTheory] in the serial collection.
/// </summary>
public sealed partial class DpdkBackend : IDisposable
{
    private static int s_runs;
    private readonly Process _process;
    private readonly List<string> _lines = new();
    private readonly object _gate = new();

    public string SocketPath { get; }
    public string FilePrefix { get; }
    public string CommandLine { get; }

    /// <summary>What to start.</summary>
    public sealed record Options
    {
        /// <summary>Queue pairs of net_vhost0 (its <c>queues=</c>).</summary>
        public int Queues { get; init; } = 1;
        /// <summary>DPDK connects to <see cref="DpdkBackend.SocketPath"/> as a client (the frontend listens).</summary>
        public bool Client { get; init; }
        public string ForwardMode { get; init; } = "rxonly";
        /// <summary>Appended to the vdev arguments, e.g. ",iommu-support=1".</summary>
        public string ExtraVdevArgs { get; init; } = "";
        /// <summary>
        /// Both EAL lcores on CPU 0 (main and the polling forwarder), so a 2-core machine keeps a core for the test.
        /// </summary>
        public string Lcores { get; init; } = "0@0,1@0";
        public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(10);
    }

    private DpdkBackend(string socketPath, string prefix, ProcessStartInfo psi)
    {
        SocketPath = socketPath;
        FilePrefix = prefix;
        CommandLine = psi.FileName + " " + string.Join(' ', psi.ArgumentList);
        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
    }

    /// <summary>A fresh socket path under /tmp for <paramref name="tag"/>.</summary>
    public static string NewSocketPath(string tag) =>
        Path.Combine(Path.GetTempPath(), $"hp-{tag}-{Environment.ProcessId}-{Interlocked.Increment(ref s_runs)}.sock");

    /// <summary>
    /// Starts testpmd serving <paramref name="socketPath"/> and waits until its vhost-user socket exists (server
    /// mode: "binding succeeded") or was created (client mode).
    /// </summary>
    public static DpdkBackend Start(string socketPath, Options? options = null)
    {
        options ??= new Options();
        if (Requirements.DpdkMissing is { } why) throw new InvalidOperationException($"DPDK interop impossible here: {why}");
        if (!options.Client) File.Delete(socketPath);
        string prefix = $"hpfe{Environment.ProcessId}_{Interlocked.Increment(ref s_runs)}";
        var psi = new ProcessStartInfo("dpdk-testpmd")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,   // kept open: testpmd quits at once when stdin is not a terminal and closed
            UseShellExecute = false,
        };
        foreach (string a in new[]
                 {
                     $"--lcores={options.Lcores}", "--main-lcore=0", "--no-pci", $"--file-prefix={prefix}", "-m", "64",
                     "--vdev", $"net_vhost0,iface={socketPath},queues={options.Queues}{(options.Client ? ",client=1" : "")}{options.ExtraVdevArgs}",
                     "--", "--stats-period", "1", $"--forward-mode={options.ForwardMode}", "--nb-cores=1",
                     $"--rxq={options.Queues}", $"--txq={options.Queues}", "--total-num-mbufs=4096",
                 })
            psi.ArgumentList.Add(a);

        var backend = new DpdkBackend(socketPath, prefix, psi);
        backend._process.Start();
        backend._process.BeginOutputReadLine();
        backend._process.BeginErrorReadLine();
        string ready = options.Client ? "vhost-user client: socket created" : "binding succeeded";
        if (!backend.WaitFor(ready, options.StartTimeout))
        {
            string log = backend.Tail();
            backend.Dispose();
            throw new TimeoutException($"testpmd did not log '{ready}' within {options.StartTimeout}: {backend.CommandLine}\n{log}");
        }
        return backend;
    }

    /// <summary>The periodic port-statistics block (--stats-period) says nothing the tests look at; it is dropped.</summary>
    private static bool IsStatsLine(string line) =>
        line.Length == 0 || line.Contains("RX-", StringComparison.Ordinal) || line.Contains("TX-", StringComparison.Ordinal) ||
        line.Contains("-pps:", StringComparison.Ordinal) || line.Contains("#####", StringComparison.Ordinal) ||
        line.Contains("Port statistics", StringComparison.Ordinal) || line.Contains("Throughput (since", StringComparison.Ordinal) ||
        line.Trim() == "\u001b[2J\u001b[1;1H";

    private void Append(string? line)
    {
        if (line == null || IsStatsLine(line)) return;
        lock (_gate)
        {
            _lines.Add(line);
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Everything testpmd printed so far.</summary>
    public string Log
    {
        get
        {
            lock (_gate) return string.Join('\n', _lines);
        }
    }

    /// <summary>The last <paramref name="lines"/> lines, for failure messages.</summary>
    public string Tail(int lines = 40)
    {
        lock (_gate) return string.Join('\n', _lines.Skip(Math.Max(0, _lines.Count - lines)));
    }

    /// <summary>Lines containing <paramref name="text"/>.</summary>
    public IReadOnlyList<string> Lines(string text)
    {
        lock (_gate) return _lines.Where(l => l.Contains(text, StringComparison.Ordinal)).ToList();
    }

    public int Count(string text) => Lines(text).Count;

    public bool HasExited => _process.HasExited;

    /// <summary>Waits until <paramref name="text"/> has appeared <paramref name="occurrences"/> times. False on timeout or exit.</summary>
    public bool WaitFor(string text, TimeSpan timeout, int occurrences = 1)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_gate)
        {
            while (true)
            {
                if (_lines.Count(l => l.Contains(text, StringComparison.Ordinal)) >= occurrences) return true;
                long left = deadline - Environment.TickCount64;
                if (left <= 0 || _process.HasExited) return false;
                Monitor.Wait(_gate, (int)Math.Min(left, 100));
            }
        }
    }

    /// <summary><see cref="WaitFor"/>, failing with DPDK's recent output when the line does not come.</summary>
    public void Expect(string text, TimeSpan timeout, int occurrences = 1)
    {
        if (!WaitFor(text, timeout, occurrences))
            throw new Xunit.Sdk.XunitException(
                $"testpmd did not log '{text}' {occurrences} time(s) within {timeout.TotalSeconds:0.#} s " +
                $"(seen {Count(text)}; exited: {HasExited}). Last output:\n{Tail()}");
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    /// <summary>SIGINT (testpmd's clean shutdown), SIGKILL if it has not exited after 5 s.</summary>
    public void Stop()
    {
        try
        {
            if (_process.HasExited) return;
            kill(_process.Id, 2);
            if (!_process.WaitForExit(5000))
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
            _process.WaitForExit();   // drains the output events
        }
        catch (InvalidOperationException)
        {
            // never started
        }
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
        if (File.Exists(SocketPath)) File.Delete(SocketPath);
        try
        {
            Directory.Delete(Path.Combine("/var/run/dpdk", FilePrefix), recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public override string ToString() => CommandLine;
}
