using System.Diagnostics;
using System.Text;

namespace HotPath.Tests.Infrastructure;

/// <summary>
/// DPDK's virtio-user frontend (dpdk-testpmd --vdev net_virtio_user0) run against a vhost-user socket, as the
/// real peer of HotPath's backend. Output is captured; the process is stopped with SIGINT and always reaped.
/// </summary>
public sealed class VirtioUserPeer : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private static int s_instance;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <param name="socket">vhost-user socket path</param>
    /// <param name="mode">testpmd forward mode: txonly, rxonly, io (io starts with --tx-first)</param>
    /// <param name="server">virtio-user listens (server=1): HotPath connects in client mode</param>
    public VirtioUserPeer(string socket, string mode = "rxonly", int queues = 1, bool packed = false, bool mergeable = true,
        int packetLength = 64, bool server = false, string extraVdev = "", int seconds = 0)
    {
        int n = Interlocked.Increment(ref s_instance);
        string vdev = $"net_virtio_user0,mac=00:01:02:03:04:05,path={socket},queues={queues},queue_size=1024," +
                      $"packed_vq={(packed ? 1 : 0)},mrg_rxbuf={(mergeable ? 1 : 0)},in_order=0{(server ? ",server=1" : "")}{extraVdev}";
        var args = new List<string>
        {
            "-l", "1,0", "--main-lcore", "1", "--no-pci", $"--file-prefix=hpvu{Environment.ProcessId}_{n}", "-m", "256",
            "--single-file-segments", "--vdev", vdev, "--",
            "--nb-cores=1", $"--rxq={queues}", $"--txq={queues}", "--txd=1024", "--rxd=1024", "--stats-period", "1",
            $"--txpkts={packetLength}", "--burst=32", $"--forward-mode={mode}",
        };
        if (mode == "io") args.Add("--tx-first");
        string exe = seconds > 0 ? "timeout" : "dpdk-testpmd";
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (seconds > 0)
        {
            psi.ArgumentList.Add("-s");
            psi.ArgumentList.Add("INT");
            psi.ArgumentList.Add(seconds.ToString());
            psi.ArgumentList.Add("dpdk-testpmd");
        }
        foreach (string a in args) psi.ArgumentList.Add(a);
        _process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start dpdk-testpmd");
        _process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_output) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_output) _output.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Waits until <paramref name="text"/> appears in the output.</summary>
    public bool WaitForOutput(string text, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (Output.Contains(text, StringComparison.Ordinal)) return true;
            if (_process.HasExited) return Output.Contains(text, StringComparison.Ordinal);
            Thread.Sleep(50);
        }
        return false;
    }

    /// <summary>Stops testpmd with SIGINT (it prints its final statistics), then SIGKILL if it does not exit.</summary>
    public void Stop(TimeSpan? grace = null)
    {
        if (_process.HasExited) return;
        kill(_process.Id, 2);
        if (!_process.WaitForExit((int)(grace ?? TimeSpan.FromSeconds(10)).TotalMilliseconds))
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
        _process.WaitForExit();   // flush redirected output
    }

    /// <summary>Final "TX-packets"/"RX-packets" totals from testpmd's statistics (after <see cref="Stop"/>).</summary>
    public (long rx, long tx) Totals()
    {
        long rx = 0, tx = 0;
        foreach (string line in Output.Split('\n'))
        {
            string l = line.Trim();
            if (l.StartsWith("RX-packets:")) rx = long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
            if (l.StartsWith("TX-packets:")) tx = long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        }
        return (rx, tx);
    }

    public void Dispose()
    {
        try { Stop(TimeSpan.FromSeconds(5)); } catch (InvalidOperationException) { }
        _process.Dispose();
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int kill(int pid, int sig);
}
