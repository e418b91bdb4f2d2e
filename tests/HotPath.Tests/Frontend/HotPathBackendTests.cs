using HotPath.Frontend.Memory;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Protocol.Wire;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Protocol;
using Xunit.Abstractions;

namespace HotPath.Tests.Frontend;

/// <summary>
/// HotPath's frontend against HotPath's own control plane (server mode, in this process): the two sides the
/// project builds must agree on everything DPDK agrees on, and the backend must refuse the hostile messages.
/// </summary>
[Collection(SerialCollection.Name)]
public class HotPathBackendTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static void WithBackend(string tag, Action<string, DeviceEventLog> test)
    {
        string path = FrontendRig.SocketPath(tag);
        var events = new DeviceEventLog();
        VhostDriver driver = VhostDriver.Register(path, VhostDriverFlags.None);
        try
        {
            driver.RegisterCallbacks(events);
            driver.Start();
            test(path, events);
        }
        finally
        {
            driver.Unregister();
        }
    }

    private static int Vid(string evt) => int.Parse(evt.Split(' ')[1]);

    [Theory]
    [InlineData(1, false)]
    [InlineData(1, true)]
    [InlineData(4, false)]
    [InlineData(4, true)]
    public void The_hotpath_backend_reaches_new_device_with_what_the_frontend_negotiated(int pairs, bool packed) =>
        WithBackend("fe-hp", (path, events) =>
        {
            using FrontendMemory mem = FrontendRig.Memory();
            var rings = NetVrings.Allocate(mem, pairs, 256, packed);
            for (int i = 0; i < rings.Count; i++) rings[i].BaseIndex = packed ? 0x8000u | (uint)i : 0;
            using (var fe = VhostUserFrontend.Connect(path, FrontendRig.Connect))
            {
                fe.Start(mem, rings);
                int vid = Vid(events.WaitFor("new_device", Wait));
                VhostSession session = DeviceRegistry.Get(vid)!;
                DeviceWaits.Running(session);
                Assert.Equal(fe.AckedFeatures, session.Device.Features);
                Assert.Equal(fe.AckedProtocolFeatures, session.ProtocolFeatures);
                Assert.Equal(0x0F, session.Status);
                Assert.Equal(0x0F, fe.GetStatus());
                Assert.Equal(mem.Regions.Count, session.Device.Memory!.Count);

                uint[] bases = fe.Stop();
                Assert.Equal(rings.Select(r => r.BaseIndex), bases);
                events.WaitFor($"destroy_device {vid}", Wait);
            }
            events.WaitFor("destroy_connection", Wait);
        });

    [Fact]
    public void The_hotpath_backend_refuses_hostile_messages_and_keeps_serving() =>
        WithBackend("fe-hp-hostile", (path, events) =>
        {
            TimeSpan observe = TimeSpan.FromSeconds(2);
            using FrontendMemory mem = FrontendRig.Memory();
            var rings = NetVrings.Allocate(mem, 1, 256, packed: false);
            foreach (Func<ulong, HostileMessage> make in new Func<ulong, HostileMessage>[]
                     {
                         _ => HostileFraming.UnknownRequest(99).WithNeedReply(),
                         offered => HostileNegotiation.FeaturesNeverOffered(offered).WithNeedReply(),
                         _ => HostileVrings.Num(1000).WithNeedReply(),
                         _ => HostileVrings.Index(FrontendRequest.SetVringNum, 0x10000).WithNeedReply(),
                         _ => HostileMemoryTables.LargerThanFd().WithNeedReply(),
                     })
            {
                using var fe = VhostUserFrontend.Connect(path, FrontendRig.Connect);
                fe.Negotiate(1, packed: false);   // each case on a fresh, properly negotiated connection
                using HostileMessage m = make(fe.BackendFeatures);
                using HostileOutcome o = fe.Hostile.SendAndObserve(m, observe);
                output.WriteLine($"{m.Name}: {o}");
                Assert.True(o.Refused, $"{m}: {o}");
            }
            using (var h = HostileConnection.Connect(path, FrontendRig.Connect))
            using (HostileMessage m = HostileFraming.TooManyFds())
            using (HostileOutcome o = h.SendAndObserve(m, observe))
            {
                output.WriteLine($"{m.Name}: {o}");
                Assert.Equal(HostileResult.Closed, o.Result);
            }
            using (var h = HostileConnection.Connect(path, FrontendRig.Connect))
            using (HostileMessage m = HostileFraming.SizeAboveMaximum())
            using (HostileOutcome o = h.SendAndObserve(m, observe))
            {
                output.WriteLine($"{m.Name}: {o}");
                Assert.Equal(HostileResult.Closed, o.Result);
            }

            using var again = VhostUserFrontend.Connect(path, FrontendRig.Connect);
            again.Start(mem, rings);
            events.WaitFor("new_device", Wait);
        });

    [Fact]
    public void Server_mode_serves_the_hotpath_backend_in_client_mode()
    {
        string path = FrontendRig.SocketPath("fe-hp-client");
        using var listener = VhostUserListener.Listen(path);
        var events = new DeviceEventLog();
        VhostDriver driver = VhostDriver.Register(path, VhostDriverFlags.Client);
        try
        {
            driver.RegisterCallbacks(events);
            driver.Start();
            using FrontendMemory mem = FrontendRig.Memory();
            using (var fe = listener.Accept(Wait))
            {
                fe.Start(mem, NetVrings.Allocate(mem, 2, 256, packed: true));
                events.WaitFor("new_device", Wait);
            }
            events.WaitFor("destroy_connection", Wait);
        }
        finally
        {
            driver.Unregister();
        }
    }
}
