using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Protocol.Control;
using HotPath.Protocol.Takeover;
using HotPath.Tests.Buffers;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Takeover;

/// <summary>
/// Many devices in one takeover, as a vSwitch has them: one polling thread serves every running device, and a new
/// driver takes 1 or 64 devices over at once, five times. Every device forwards after each takeover. The datapath
/// pause each takeover measured (from the old side's quiesce to the new side's resume) is printed, not asserted:
/// perf/takeover-pause.sh collects it.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class TakeoverPauseTests(ITestOutputHelper output)
{
    private const int Rounds = 5, Packets = 16;

    /// <summary>One polling thread over every running device; destroy_device returns once it no longer polls it.</summary>
    private sealed class OnePoller : IVhostDeviceOps, IDisposable
    {
        private readonly Mempool _pool;
        private readonly object _devicesLock = new();
        private readonly List<(int Vid, VhostDevice Dev)> _devices = new();
        private readonly Thread _thread;
        private volatile bool _stop;

        public OnePoller(Mempool pool)
        {
            _pool = pool;
            _thread = new Thread(Run) { IsBackground = true, Name = "one poller" };
            _thread.Start();
        }

        public int NewDevice(int vid)
        {
            lock (_devicesLock) _devices.Add((vid, DeviceRegistry.GetDevice(vid)!));
            return 0;
        }

        public void DestroyDevice(int vid)
        {
            lock (_devicesLock) _devices.RemoveAll(d => d.Vid == vid);   // the poller holds the lock for a whole pass
        }

        private void Run()
        {
            Span<nint> pkts = stackalloc nint[32];
            while (!_stop)
            {
                int moved = 0;
                lock (_devicesLock)
                {
                    foreach ((_, VhostDevice dev) in _devices)
                    {
                        ushort n = dev.DequeueBurst(1, _pool, pkts);
                        if (n == 0) continue;
                        moved += n;
                        ushort sent = dev.EnqueueBurst(0, pkts[..n]);
                        fixed (nint* p = pkts) MbufOps.FreeBulk((Mbuf**)p, n);
                        _ = sent;
                    }
                }
                if (moved == 0) Thread.Yield();
            }
        }

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(64)]
    public void Devices_move_together_and_forward_after_every_takeover(int devices)
    {
        using var pool = Mempool.Create(PoolFixtures.Name("takeover-pause"), 8192, 256, 2048 + 128, MempoolFlags.NoHuge);
        using var app = new OnePoller(pool);
        string takeoverPath = DpdkBackend.NewSocketPath("takeover-pause");
        string path = DpdkBackend.NewSocketPath("takeover-pause-first");
        VhostDriver current = TakeoverLifecycleTests.Register(path, app, takeoverPath, takeover: false);
        current.Start();
        var echo = new List<EchoDevice>();
        var pauses = new List<double>();
        try
        {
            for (int i = 0; i < devices; i++) echo.Add(EchoDevice.Open(path));
            foreach (EchoDevice d in echo) Assert.Equal(Packets, d.Echo(Packets));
            for (int round = 0; round < Rounds; round++)
            {
                VhostDriver next = TakeoverLifecycleTests.Register(DpdkBackend.NewSocketPath("takeover-pause-next"), app, takeoverPath, takeover: true);
                next.Start();
                Assert.Equal(TakeoverState.Taken, next.LastTakeover.State);
                Assert.Equal((uint)devices, next.LastTakeover.Devices);
                pauses.Add(next.LastTakeover.PauseNs / 1e6);
                current.Unregister();
                current = next;
                foreach (EchoDevice d in echo) Assert.Equal(Packets, d.Echo(Packets));
            }
        }
        finally
        {
            foreach (EchoDevice d in echo) d.Dispose();
            current.Unregister();
        }
        pauses.Sort();
        output.WriteLine($"takeover pause, {devices} device(s), {Rounds} takeovers in one process: median {pauses[Rounds / 2]:0.000} ms, " +
                         $"min {pauses[0]:0.000} ms, max {pauses[^1]:0.000} ms");
    }
}
