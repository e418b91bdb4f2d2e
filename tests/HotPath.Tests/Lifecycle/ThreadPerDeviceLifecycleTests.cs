using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Protocol.Control;
using HotPath.TestBackend;
using HotPath.Tests.Buffers;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Protocol;

namespace HotPath.Tests.Lifecycle;

/// <summary>
/// One library instance in this process, an application that starts a polling thread in new_device and joins it in
/// destroy_device (as OVS, hp-fwd and DPDK's examples do), and a thousand device lifecycles from HotPath's frontend:
/// every lifecycle forwards, the pool's in-use count is 0 after each, and fds, memfd mappings and cache slots stay
/// flat.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class ThreadPerDeviceLifecycleTests
{
    private const int Lifecycles = 1000, Packets = 32;

    /// <summary>io forwarding on a thread of its own per device, with a per-thread mempool cache.</summary>
    private sealed class ThreadPerDeviceApp(Mempool pool) : IVhostDeviceOps
    {
        private readonly DeviceThreads _workers = new();
        public readonly DeviceEventLog Events = new();
        public long Forwarded;

        public int NewDevice(int vid)
        {
            _workers.Start(vid, $"poll-{vid}", stop => Forward(vid, stop));
            Events.NewDevice(vid);
            return 0;
        }

        public void DestroyDevice(int vid)
        {
            if (!_workers.TryStop(vid, TimeSpan.FromSeconds(10), out bool joined)) return;
            Assert.True(joined, "the polling thread did not stop");
            Events.DestroyDevice(vid);
        }

        private void Forward(int vid, CancellationToken stop)
        {
            VhostDevice dev = DeviceRegistry.GetDevice(vid)!;
            Span<nint> pkts = stackalloc nint[32];
            while (!stop.IsCancellationRequested)
            {
                ushort n = dev.DequeueBurst(1, pool, pkts);
                if (n == 0)
                {
                    Thread.Yield();
                    continue;
                }
                ushort sent = dev.EnqueueBurst(0, pkts[..n]);
                Interlocked.Add(ref Forwarded, sent);
                fixed (nint* p = pkts) MbufOps.FreeBulk((Mbuf**)p, n);
            }
        }
    }

    [Fact]
    public void A_thousand_lifecycles_with_a_polling_thread_each_strand_no_mbuf_fd_mapping_or_slot()
    {
        // A small pool with a large cache, as hp-fwd's: without reclaiming exited threads' caches it runs dry
        // after Count / Cache = 16 lifecycles.
        using var pool = Mempool.Create(PoolFixtures.Name("lifecycles"), 4096, 256, 2048 + 128, MempoolFlags.NoHuge);
        var app = new ThreadPerDeviceApp(pool);
        string path = DpdkBackend.NewSocketPath("lc-threads");
        var driver = VhostDriver.Register(path, VhostDriverFlags.None);
        driver.RegisterCallbacks(app);
        try
        {
            driver.Start();
            int fds = 0, mappings = 0, slots = 0;
            for (int cycle = 1; cycle <= Lifecycles; cycle++)
            {
                EventMark mark = app.Events.Mark();
                long before = Interlocked.Read(ref app.Forwarded);
                using (var dev = EchoDevice.Open(path)) Assert.Equal(Packets, dev.Echo(Packets));
                app.Events.WaitFor("destroy_device", TimeSpan.FromSeconds(10), after: mark);
                Assert.Equal(Packets, Interlocked.Read(ref app.Forwarded) - before);
                Assert.Equal(0u, pool.InUse);
                if (cycle == 10)
                {
                    fds = ProcessResources.OpenFds;
                    mappings = ProcessResources.MemfdMappings;
                    slots = MempoolCacheSlots.FreeSlots;
                }
            }
            // The last connection is closed by the event loop after the frontend hangs up: wait for it, boundedly.
            SpinWait.SpinUntil(() => ProcessResources.OpenFds <= fds && ProcessResources.MemfdMappings <= mappings, TimeSpan.FromSeconds(10));
            Assert.InRange(ProcessResources.OpenFds, 0, fds);
            Assert.InRange(ProcessResources.MemfdMappings, 0, mappings);
            Assert.InRange(MempoolCacheSlots.FreeSlots, slots, MempoolCacheSlots.MaxSlots);
            Assert.Equal(0u, pool.InUse);
            Assert.Equal(pool.Count, pool.Available);
        }
        finally { driver.Unregister(); }
    }
}
