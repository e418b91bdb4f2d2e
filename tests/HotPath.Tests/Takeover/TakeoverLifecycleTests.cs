using HotPath.Engine.Buffers;
using HotPath.Protocol.Control;
using HotPath.Protocol.Takeover;
using HotPath.Tests.Buffers;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Security;

namespace HotPath.Tests.Takeover;

/// <summary>
/// A thousand takeovers in one process: each new driver (its own socket path, the shared takeover path) takes the
/// running device from the previous one (the takeover runs on the caller's thread, the handover on the control
/// thread, so one process can do both). Every round forwards, and fds, memfd mappings, threads and the pool's
/// in-use count stay flat: nothing a handover moves or closes is left behind on either side.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class TakeoverLifecycleTests
{
    private const int Takeovers = 1000, Packets = 32;

    [Fact]
    public void A_thousand_takeovers_in_one_process_leave_no_fd_mapping_thread_or_mbuf_behind()
    {
        using var pool = Mempool.Create(PoolFixtures.Name("takeovers"), 4096, 256, 2048 + 128, MempoolFlags.NoHuge);
        var app = new ForwardingApp(pool);
        string takeoverPath = DpdkBackend.NewSocketPath("takeover-chain");
        string first = DpdkBackend.NewSocketPath("takeover-first");
        VhostDriver current = Register(first, app, takeoverPath, takeover: false);
        current.Start();
        try
        {
            using var dev = EchoDevice.Open(first);
            Assert.Equal(Packets, dev.Echo(Packets));
            ResourceSnapshot before = default;
            int threads = 0;
            for (int round = 1; round <= Takeovers; round++)
            {
                VhostDriver next = Register(DpdkBackend.NewSocketPath("takeover-next"), app, takeoverPath, takeover: true);
                next.Start();
                Assert.Equal(TakeoverState.Taken, next.LastTakeover.State);
                Assert.Equal(1u, next.LastTakeover.Devices);
                Assert.Equal(TakeoverState.Handed, current.LastTakeover.State);
                Assert.Empty(current.Sessions);
                current.Unregister();
                current = next;
                Assert.Equal(Packets, dev.Echo(Packets));
                if (round == 10)
                {
                    before = ResourceSnapshot.Take();
                    threads = ProcessResources.Threads;
                }
            }
            Assert.Equal(Takeovers, app.Completed);
            before.AssertFlat($"{Takeovers} takeovers");
            Assert.InRange(ProcessResources.Threads, 0, threads + 2);
            Assert.Equal(Packets, dev.Echo(Packets));
        }
        finally { current.Unregister(); }
        Assert.True(SpinWait.SpinUntil(() => pool.InUse == 0, TimeSpan.FromSeconds(10)), $"{pool.InUse} mbufs in use");
    }

    internal static VhostDriver Register(string path, IVhostDeviceOps app, string takeoverPath, bool takeover)
    {
        var d = VhostDriver.Register(path, VhostDriverFlags.TakeoverAllow | (takeover ? VhostDriverFlags.Takeover : 0));
        d.SetTakeoverPath(takeoverPath);
        d.RegisterCallbacks(app);
        return d;
    }
}
