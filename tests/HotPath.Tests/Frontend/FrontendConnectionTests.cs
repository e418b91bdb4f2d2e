using System.Diagnostics;
using HotPath.Frontend.VhostUser;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Frontend;

/// <summary>
/// Client mode (connect with retry), server mode (listen and accept), their timeouts, and that connections,
/// eventfds and backend channels are all given back: 10,000 connect/negotiate/start/disconnect cycles over real
/// Unix sockets leave the process's fd count where it was.
/// </summary>
[Collection(SerialCollection.Name)]   // counts process-wide open fds
public class FrontendConnectionTests(ITestOutputHelper output)
{
    [Fact]
    public void Client_mode_retries_until_the_backend_listens()
    {
        string path = FrontendRig.SocketPath("fe-late");
        RecordingBackend? backend = null;
        var late = new Thread(() =>
        {
            Thread.Sleep(300);
            backend = RecordingBackend.Listen(path);
        });
        late.Start();
        var clock = Stopwatch.StartNew();
        using (var fe = VhostUserFrontend.Connect(path, TimeSpan.FromSeconds(5)))
        {
            Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(250), $"connected after {clock.Elapsed}");
            Assert.Equal(new RecordingBackend().Features, fe.GetFeatures());
        }
        late.Join();
        backend!.Dispose();
    }

    [Fact]
    public void Client_mode_gives_up_after_its_timeout_naming_the_path()
    {
        string path = FrontendRig.SocketPath("fe-absent");
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<TimeoutException>(() => VhostUserFrontend.Connect(path, TimeSpan.FromMilliseconds(300)));
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(10));   // deadlines tick in ms; a loaded CI machine is slow
        Assert.Contains(path, e.Message);
        Assert.Throws<ArgumentException>(() => VhostUserFrontend.Connect("/tmp/" + new string('x', 120), TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Server_mode_accepts_a_client_backend_and_times_out_without_one()
    {
        string path = FrontendRig.SocketPath("fe-listen");
        using (var listener = VhostUserListener.Listen(path))
        {
            var clock = Stopwatch.StartNew();
            Assert.Contains(path, Assert.Throws<TimeoutException>(() => listener.Accept(TimeSpan.FromMilliseconds(200))).Message);
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(30));

            using var backend = RecordingBackend.OnSocket(UnixSockets.Connect(path, TimeSpan.FromSeconds(1)));
            using var fe = listener.Accept(TimeSpan.FromSeconds(20));
            using var mem = FrontendRig.Memory();
            fe.Start(mem, NetVrings.Allocate(mem, 2, 256, packed: true));
            Assert.True(fe.Started);
            Assert.Equal(1, backend.Connections);
        }
        Assert.False(File.Exists(path));   // the listener removed its socket file
    }

    [Fact]
    public void Ten_thousand_connect_start_disconnect_cycles_leak_no_fds()
    {
        string path = FrontendRig.SocketPath("fe-cycles");
        using var backend = RecordingBackend.Listen(path);
        using var mem = FrontendRig.Memory();
        var rings = NetVrings.Allocate(mem, 1, 256, packed: false);
        var options = new NetDeviceOptions { BackendChannel = true, ErrorFds = true };
        void Cycle()
        {
            using var fe = VhostUserFrontend.Connect(path, TimeSpan.FromSeconds(2));
            fe.RequestAcks = false;   // half the round trips; what is opened and closed is the same
            fe.Start(mem, rings, options);
        }
        void Settle()
        {
            for (int i = 0; i < 200 && backend.LiveConnections > 0; i++) Thread.Sleep(5);
        }

        Cycle();
        Settle();
        int before = FrontendRig.OpenFds();
        var targets = ProcessResources.FdTargets().ToHashSet();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 10_000; i++) Cycle();
        Settle();
        int after = FrontendRig.OpenFds();
        output.WriteLine($"10,000 cycles in {clock.Elapsed.TotalSeconds:0.0} s; {before} fds before, {after} after");
        Assert.True(before == after, $"fds {before} -> {after}; new: {string.Join(", ", ProcessResources.FdTargets().Where(t => !targets.Contains(t)))}");
        Assert.Equal(10_001, backend.Connections);
        Assert.Null(backend.Error);
    }
}
