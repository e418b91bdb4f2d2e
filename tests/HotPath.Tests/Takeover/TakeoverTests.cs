using System.Diagnostics;
using System.Globalization;
using HotPath.Frontend.Memory;
using HotPath.Frontend.VhostUser;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Migration;
using Xunit.Abstractions;

namespace HotPath.Tests.Takeover;

/// <summary>
/// Hitless upgrade with real processes: hp-test-backend (HotPath's managed API in a child process) forwards the
/// guest's TX to its RX while HotPath's frontend, in this process, sends numbered packets of varying sizes. A new
/// backend process takes the running device over (TAKEOVER) from the old one (TAKEOVER_ALLOW), again and again under
/// traffic. Every packet must come back exactly once, no descriptor may be lost or completed twice, and the frontend
/// must see nothing: no new connection, no message it did not expect, and the last backend answers its GET_VRING_BASE
/// with the very positions the guest's rings are at.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class TakeoverTests(ITestOutputHelper output)
{
    private const int Takeovers = 10;

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public void Backend_replaced_ten_times_under_traffic_loses_nothing_and_the_frontend_sees_nothing(bool packed, bool client)
    {
        using var rig = new TakeoverRig(packed, client, output);
        var pauses = new List<double>();
        for (int i = 0; i < Takeovers; i++)
        {
            rig.Pump(5_000, $"before takeover {i}");
            pauses.Add(rig.TakeOver($"takeover {i}"));
        }
        rig.Pump(5_000, "after the last takeover");
        rig.CheckNothingLost();
        pauses.Sort();
        output.WriteLine($"{Takeovers} takeovers ({(packed ? "packed" : "split")}, backend {(client ? "client" : "server")} mode): " +
                         $"datapath pause median {pauses[pauses.Count / 2]:0.000} ms, max {pauses[^1]:0.000} ms");
    }

    /// <summary>
    /// A device behind a vIOMMU: the frontend maps guest memory into the backend's IOTLB once, at start, and never
    /// answers a miss. Each new backend must therefore get every mapping with the device, or the traffic stops.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_iotlb_moves_with_the_device(bool packed)
    {
        using var rig = new TakeoverRig(packed, client: true, output, iommu: true);
        for (int i = 0; i < 3; i++)
        {
            rig.Pump(5_000, $"before takeover {i}");
            rig.TakeOver($"takeover {i}");
        }
        rig.Pump(5_000, "after the last takeover");
        rig.CheckNothingLost();
    }

    /// <summary>
    /// A takeover in the middle of a live migration: dirty logging (LOG_ALL, the log memfd, the used rings' log
    /// addresses) moves with the device, so the pages the new process writes (RX buffers and the used ring) are marked
    /// in the very log the frontend reads.
    /// </summary>
    [Fact]
    public void Dirty_logging_goes_on_in_the_same_log_after_a_takeover()
    {
        using var rig = new TakeoverRig(packed: false, client: true, output);
        rig.Pump(2_000, "before logging");
        using FrontendDirtyLog log = rig.EnableLogging();
        rig.Pump(2_000, "logging, before the takeover");
        Assert.True(log.CountDirty() > 0);
        rig.TakeOver("takeover while logging");
        log.Clear();
        rig.Pump(5_000, "logging, after the takeover");
        Assert.True(log.IsDirty(rig.RxUsedRingGpa), "the new process did not log its used-ring writes");
        Assert.True(log.CountDirty() > 1, $"{log.CountDirty()} dirty pages after the takeover");
        rig.DisableLogging();
        rig.CheckNothingLost();
    }

    /// <summary>
    /// The new process dies before it resumed the device (after it received everything, after READY, after COMMIT):
    /// the old one resumes it, and the traffic goes on through it with nothing lost.
    /// </summary>
    [Theory]
    [InlineData("new-received")]
    [InlineData("new-ready")]
    [InlineData("new-committed")]
    public void New_process_killed_during_the_handover_leaves_the_device_with_the_old_one(string point)
    {
        using var rig = new TakeoverRig(packed: false, client: true, output);
        rig.Pump(5_000, "before");
        int from = rig.Current.Output.Count;
        using ChildBackend next = rig.StartNext(new() { ["HOTPATH_TAKEOVER_STALL"] = point });
        rig.PumpUntil(() => next.Output.Any(l => l.Contains($"stalled at {point}", StringComparison.Ordinal)) || next.HasExited, $"{point}: the new process did not stall");
        Assert.False(next.HasExited, string.Join('\n', next.Output));
        next.Kill();
        rig.PumpUntil(() => rig.Current.WaitForLineAfter(from, "started", TimeSpan.Zero) != null, $"{point}: the old process did not resume the device");
        Assert.Contains(rig.Current.Output, l => l.Contains("resuming", StringComparison.Ordinal));
        Assert.False(rig.Current.HasExited);
        rig.Pump(5_000, "after the old process resumed");
        // It can still be taken over.
        rig.TakeOver("a takeover after the failed one");
        rig.Pump(5_000, "after");
        rig.CheckNothingLost();
    }

    /// <summary>
    /// The old process dies after it sent everything (before or after COMMIT): the new one owns the device and goes
    /// on, with nothing lost and no reconnect.
    /// </summary>
    [Theory]
    [InlineData("old-sent")]
    [InlineData("old-committed")]
    public void Old_process_killed_after_sending_its_state_leaves_the_device_with_the_new_one(string point)
    {
        using var rig = new TakeoverRig(packed: true, client: true, output, new() { ["HOTPATH_TAKEOVER_STALL"] = point });
        rig.Pump(5_000, "before");
        ChildBackend old = rig.Current;
        using ChildBackend next = rig.StartNext();
        rig.PumpUntil(() => old.Output.Any(l => l.Contains($"stalled at {point}", StringComparison.Ordinal)) || old.HasExited, $"{point}: the old process did not stall");
        old.Kill();
        rig.PumpUntil(() => next.Output.Any(l => l.StartsWith("takeover: state=", StringComparison.Ordinal)) || next.HasExited,
            $"{point}: the new process did not take the device over");
        Assert.Contains(next.Output, l => l.StartsWith("device", StringComparison.Ordinal) && l.EndsWith("started", StringComparison.Ordinal));
        Assert.Contains(next.Output, l => l.Contains("state=Taken devices=1", StringComparison.Ordinal));
        rig.Adopt(next);
        rig.Pump(5_000, "after the old process died");
        rig.CheckNothingLost();
    }

    /// <summary>
    /// The old process dies before it sent anything: the new one starts normally (a fallback, counted as such), the
    /// frontend's reconnect path runs (QEMU's: it accepts the new connection, restores the rings from their used
    /// indexes and hands the inflight area back), and nothing is lost: the old process had delivered what it held
    /// when it stopped.
    /// </summary>
    [Fact]
    public void Old_process_killed_before_sending_anything_the_new_one_starts_normally_and_the_frontend_reconnects()
    {
        using var rig = new TakeoverRig(packed: false, client: true, output, new() { ["HOTPATH_TAKEOVER_STALL"] = "old-quiesced" });
        rig.Pump(5_000, "before");
        ChildBackend old = rig.Current;
        using ChildBackend next = rig.StartNext();
        Assert.True(old.WaitForLine("stalled at old-quiesced", TimeSpan.FromSeconds(60)), string.Join('\n', old.Output));
        old.Kill();
        rig.Reconnect();
        Assert.True(next.WaitForLine("takeover: state=Fallback devices=0", TimeSpan.FromSeconds(60)), string.Join('\n', next.Output));
        rig.Adopt(next);
        Assert.True(next.WaitForLine("started", TimeSpan.FromSeconds(60)), string.Join('\n', next.Output));
        rig.Pump(5_000, "after the reconnect");
        rig.CheckNothingLost(reconnected: true);
    }
}

/// <summary>A guest (HotPath's frontend) and the backend process serving it, which the test replaces.</summary>
internal sealed class TakeoverRig : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly string _path = DpdkBackend.NewSocketPath("takeover");
    private readonly bool _client, _iommu;
    private readonly ITestOutputHelper _output;
    private readonly VhostUserListener? _listener;
    private VhostUserFrontend _fe;
    private readonly GuestTraffic _guest;
    private ChildBackend? _owned;
    private readonly List<ChildBackend> _retired = new();

    public TakeoverRig(bool packed, bool client, ITestOutputHelper output, Dictionary<string, string>? env = null, bool iommu = false)
    {
        _client = client;
        _iommu = iommu;
        _output = output;
        _guest = new GuestTraffic(packed: packed) { ReceivedSeqs = new HashSet<ulong>() };
        Current = Spawn(env ?? new(), takeover: false);
        if (client)
        {
            _listener = VhostUserListener.Listen(_path);
            _fe = _listener.Accept(Wait);
        }
        else
        {
            Assert.True(SpinWait.SpinUntil(() => File.Exists(_path) || Current.HasExited, Wait), "the backend did not listen");
            _fe = VhostUserFrontend.Connect(_path, Wait);
        }
        StartFrontend();
        Assert.True(Current.WaitForLine("started", Wait), $"the backend did not start the device: {string.Join(" | ", Current.Output)}");
    }

    public ChildBackend Current { get; private set; }

    private ChildBackend Spawn(Dictionary<string, string> env, bool takeover)
    {
        env["HOTPATH_LOG"] = "info";
        var args = new List<string> { "--socket", _path, "--takeover-allow" };
        if (_client) args.Add("--client");
        if (takeover) args.Add("--takeover");
        if (_iommu) args.Add("--iommu");
        ChildBackend child = ChildBackend.Start(ChildBackend.TestBackendPath, env, args.ToArray());
        _owned = null;
        return child;
    }

    /// <summary>Starts a backend process with the takeover flag (the caller owns it).</summary>
    public ChildBackend StartNext(Dictionary<string, string>? env = null) => Spawn(env ?? new(), takeover: true);

    /// <summary>The new process is the one serving now.</summary>
    public void Adopt(ChildBackend next)
    {
        _retired.Add(Current);
        Current = next;
    }

    /// <summary>
    /// One takeover under traffic: the new process reports it took one device, the old one reports the handover and
    /// exits, the new one runs the device. Returns the pause the new process measured, in ms.
    /// </summary>
    public double TakeOver(string what)
    {
        ChildBackend old = Current;
        ChildBackend next = StartNext();
        _owned = next;
        PumpUntil(() => next.Output.Any(l => l.StartsWith("takeover: state=", StringComparison.Ordinal)) || next.HasExited, $"{what}: no takeover line");
        string line = next.Output.First(l => l.StartsWith("takeover: state=", StringComparison.Ordinal));
        Assert.Contains("state=Taken devices=1", line);
        PumpUntil(() => old.HasExited, $"{what}: the old process did not exit");
        Assert.Contains(old.Output, l => l == "takeover complete");
        Assert.Contains(old.Output, l => l.Contains("handed over 1 device(s)", StringComparison.Ordinal));
        PumpUntil(() => next.Output.Any(l => l.Contains("started", StringComparison.Ordinal) && l.StartsWith("device", StringComparison.Ordinal)), $"{what}: the new process did not start the device");
        _retired.Add(old);
        Current = next;
        _owned = null;
        string pause = line[(line.IndexOf("pause_ns=", StringComparison.Ordinal) + 9)..].Split(' ')[0];
        return long.Parse(pause, CultureInfo.InvariantCulture) / 1e6;
    }

    /// <summary>
    /// The backend connection was lost (client mode): accept the new backend's connection and hand it the rings from
    /// their used positions and the inflight area, as QEMU does.
    /// </summary>
    public void Reconnect()
    {
        InflightArea? area = _fe.Inflight;
        _fe.Inflight = null;   // kept for the new connection
        _fe.Dispose();
        _fe = _listener!.Accept(Wait);
        VhostUserFrontend.RestoreBasesAfterBackendLoss(_guest.Memory, _guest.Rings);
        _fe.Inflight = area;
        StartFrontend();
    }

    private void StartFrontend()
    {
        _fe.Start(_guest.Memory, _guest.Rings, new NetDeviceOptions { TrackInflight = true, Iommu = _iommu, BackendChannel = _iommu });
        if (_iommu) _fe.IotlbMapAll(_guest.Memory);   // once: misses are never answered
    }

    /// <summary>Starts dirty logging into a new log (the caller owns it).</summary>
    public FrontendDirtyLog EnableLogging()
    {
        var log = new FrontendDirtyLog(DirtyLogTests.GuestEnd(_guest.Memory));
        _fe.EnableLogging(log, _guest.Memory, _guest.Rings);
        return log;
    }

    public void DisableLogging() => _fe.DisableLogging(_guest.Memory, _guest.Rings);

    /// <summary>Guest physical address of the RX ring's used ring (device area).</summary>
    public ulong RxUsedRingGpa => _guest.Rings[0].DeviceAreaGpa;

    /// <summary>Sends and receives at least <paramref name="packets"/> more packets.</summary>
    public void Pump(long packets, string what)
    {
        long target = _guest.Received + packets;
        PumpUntil(() => _guest.Received >= target, what);
    }

    /// <summary>Guest traffic until <paramref name="done"/>; fails when nothing arrives for a minute.</summary>
    public void PumpUntil(Func<bool> done, string what)
    {
        var clock = Stopwatch.StartNew();
        long last = _guest.Received;
        TimeSpan lastProgress = clock.Elapsed;
        while (!done())
        {
            Assert.True(clock.Elapsed < 2 * Wait, $"{what} (traffic flowed: {_guest.Received} packets); backend: {string.Join(" | ", Current.Output.TakeLast(10))}");
            _guest.Send(64, Size);
            _guest.Collect();
            if (_guest.Received != last)
            {
                last = _guest.Received;
                lastProgress = clock.Elapsed;
            }
            else if (clock.Elapsed - lastProgress > Wait) Assert.Fail($"{what}: traffic stalled at {_guest.Received} packets; backend: {string.Join(" | ", Current.Output.TakeLast(10))}");
            else Thread.Yield();
        }
    }

    private static int Size(ulong seq) => 60 + (int)(seq * 7919 % 1459);

    /// <summary>Drains, then checks every packet came back once and the backend stopped exactly where the rings are.</summary>
    public void CheckNothingLost(bool reconnected = false)
    {
        var clock = Stopwatch.StartNew();
        while (_guest.Tx.InFlight != 0 || _guest.Received < _guest.Sent)
        {
            _guest.Collect();
            Assert.True(clock.Elapsed < Wait, $"{_guest.Tx.InFlight} TX descriptors never came back, {_guest.Sent - _guest.Received} packets missing");
            Thread.Sleep(1);
        }
        uint[] bases = _fe.Stop();
        Assert.Equal(0, _guest.Tx.InFlight);
        Assert.Equal(GuestTraffic.UsedPosition(_guest.Tx), (ushort)bases[1]);
        Assert.Equal(GuestTraffic.UsedPosition(_guest.Rx), (ushort)bases[0]);
        Assert.Equal(_guest.Sent, _guest.Received);
        Assert.Equal(_guest.Received, _guest.ReceivedSeqs!.Count);
        if (_listener != null && !reconnected)
            Assert.ThrowsAny<Exception>(() => _listener.Accept(TimeSpan.FromMilliseconds(50)).Dispose());   // no reconnect ever
        _output.WriteLine($"{_guest.Sent} packets sent, each received once; GET_VRING_BASE {bases[0]}/{bases[1]} = the rings' used positions");
    }

    public void Dispose()
    {
        _fe.Dispose();
        _fe.Inflight?.Dispose();
        _owned?.Dispose();
        Current.Dispose();
        foreach (ChildBackend c in _retired) c.Dispose();
        _listener?.Dispose();
        _guest.Dispose();
    }
}
