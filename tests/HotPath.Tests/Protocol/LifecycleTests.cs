using HotPath.Engine.Memory;
using HotPath.Frontend.Memory;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Protocol.Wire;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Protocol;

/// <summary>
/// Device lifecycle over real sockets between HotPath's frontend and HotPath's backend: server and client mode,
/// reconnects, disconnects, queue pairs, and the capability messages (config, MTU, status, hotplug, reset).
/// </summary>
[Collection(SerialCollection.Name)]
public unsafe class LifecycleTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static int Vid(string evt) => int.Parse(evt.Split(' ')[1]);

    private static (VhostDriver, DeviceEventLog) Backend(string tag, VhostDriverFlags flags = VhostDriverFlags.None, IVhostDeviceOps? ops = null)
    {
        string path = DpdkBackend.NewSocketPath(tag);
        var events = new DeviceEventLog();
        var driver = VhostDriver.Register(path, flags);
        driver.RegisterCallbacks(ops ?? events);
        return (driver, events);
    }

    [Fact]
    public void Client_mode_reconnects_after_the_frontend_restarts_three_times_in_a_row()
    {
        var (driver, events) = Backend("lc-client", VhostDriverFlags.Client);
        try
        {
            driver.Start();   // nobody listens yet: the backend retries in the background
            using FrontendMemory mem = FrontendMemory.Create(4 << 20);
            for (int restart = 0; restart < 4; restart++)
            {
                using (var listener = VhostUserListener.Listen(driver.Path))
                using (var fe = listener.Accept(Wait))
                {
                    mem.ResetAllocations();
                    fe.Start(mem, NetVrings.Allocate(mem, 1, 256, packed: restart % 2 == 1));
                    int vid = Vid(events.WaitFor("new_device", Wait));
                    DeviceWaits.Running(vid);
                }
                // The frontend process "died": socket and listener gone. The backend must notice and tear down.
                events.WaitFor("destroy_connection", Wait);
            }
            Assert.Equal(4, events.Count("new_device"));
            Assert.Equal(4, events.Count("destroy_device"));
        }
        finally { driver.Unregister(); }
    }

    [Fact]
    public void No_reconnect_is_honoured()
    {
        var (driver, events) = Backend("lc-noreconn", VhostDriverFlags.Client | VhostDriverFlags.NoReconnect);
        try
        {
            // With NO_RECONNECT a frontend that is not there is an error at start.
            var e = Assert.Throws<AggregateException>(driver.Start);
            Assert.IsType<VhostException>(e.InnerException);
            Assert.Contains("cannot connect", e.InnerException!.Message);

            using (var listener = VhostUserListener.Listen(driver.Path))
            {
                driver.Start();
                using (var fe = listener.Accept(Wait)) fe.Negotiate(1, packed: false);
                events.WaitFor("destroy_connection", Wait);
                // The frontend is still listening, but the backend must not come back.
                Assert.Throws<TimeoutException>(() => listener.Accept(TimeSpan.FromSeconds(1)).Dispose());
            }
            Assert.Equal(1, events.Count("new_connection"));
        }
        finally { driver.Unregister(); }
    }

    [Fact]
    public void A_frontend_that_disappears_without_stopping_gives_destroy_device()
    {
        var (driver, events) = Backend("lc-vanish");
        try
        {
            driver.Start();
            using FrontendMemory mem = FrontendMemory.Create(4 << 20);
            int vid;
            using (var fe = VhostUserFrontend.Connect(driver.Path, Wait))
            {
                fe.Start(mem, NetVrings.Allocate(mem, 1, 256, packed: false));
                vid = Vid(events.WaitFor("new_device", Wait));
            }
            events.WaitFor($"destroy_device {vid}", Wait);
            events.WaitFor($"destroy_connection {vid}", Wait);
            Assert.Null(DeviceRegistry.Get(vid));
            // Order: the connection first, the device before it stops, the connection last.
            var order = events.All.Select(x => x.Split(' ')[0]).Where(x => x != "vring_state_changed").ToArray();
            Assert.Equal(new[] { "new_connection", "new_device", "destroy_device", "destroy_connection" }, order);
        }
        finally { driver.Unregister(); }
    }

    [Fact]
    public void Four_queue_pairs_report_every_vring_and_start_once()
    {
        var (driver, events) = Backend("lc-4qp");
        try
        {
            driver.Start();
            using FrontendMemory mem = FrontendMemory.Create(8 << 20);
            using var fe = VhostUserFrontend.Connect(driver.Path, Wait);
            fe.Start(mem, NetVrings.Allocate(mem, 4, 256, packed: true));
            int vid = Vid(events.WaitFor("new_device", Wait));
            for (int q = 0; q < 8; q++) Assert.Contains($"vring_state_changed {vid} {q} 1", events.All);
            // Readiness of the first pair starts the device; every vring was reported before it.
            Assert.Equal(9, events.All.ToList().IndexOf($"new_device {vid}"));
            Assert.Equal(1, events.Count("new_device"));
            Assert.Equal(8, DeviceRegistry.Get(vid)!.Device.VringCount);
            Assert.Equal((ulong)HotPath.Engine.VhostDevice.MaxQueuePairs, fe.GetQueueNum());
            fe.SetVringEnable(6, false);
            events.WaitFor($"vring_state_changed {vid} 6 0", Wait);
            DeviceWaits.Running(vid);   // pairs beyond the first may come and go
        }
        finally { driver.Unregister(); }
    }

    [Fact]
    public void Two_frontends_on_one_socket_get_two_devices_and_a_hostile_one_disturbs_neither()
    {
        var (driver, events) = Backend("lc-two");
        try
        {
            driver.Start();
            using FrontendMemory mem1 = FrontendMemory.Create(4 << 20), mem2 = FrontendMemory.Create(4 << 20);
            using var fe1 = VhostUserFrontend.Connect(driver.Path, Wait);
            fe1.Start(mem1, NetVrings.Allocate(mem1, 1, 256, packed: false));
            int vid1 = Vid(events.WaitFor("new_device", Wait));
            using var fe2 = VhostUserFrontend.Connect(driver.Path, Wait);
            fe2.Start(mem2, NetVrings.Allocate(mem2, 1, 256, packed: true));
            int vid2 = Vid(events.WaitFor("new_device", Wait));
            Assert.NotEqual(vid1, vid2);

            using (var hostile = HostileConnection.Connect(driver.Path, Wait))
            using (HostileMessage m = HostileMemoryTables.LargerThanFd())
            using (HostileOutcome o = hostile.SendAndObserve(m, Wait))
                Assert.Equal(HostileResult.Closed, o.Result);

            DeviceWaits.Running(vid1);
            DeviceWaits.Running(vid2);
            Assert.Equal(0x0F, fe1.GetStatus());
            Assert.Equal(0x0F, fe2.GetStatus());
        }
        finally { driver.Unregister(); }
    }

    [Fact]
    public void Config_mtu_status_and_slots_are_served()
    {
        var (driver, events) = Backend("lc-config");
        try
        {
            driver.SetMaxQueuePairs(4);
            driver.Start();
            using FrontendMemory mem = FrontendMemory.Create(4 << 20);
            using var fe = VhostUserFrontend.Connect(driver.Path, Wait);
            fe.Start(mem, NetVrings.Allocate(mem, 1, 256, packed: false));
            VhostSession s = DeviceRegistry.Get(Vid(events.WaitFor("new_device", Wait)))!;

            byte[] cfg = fe.GetConfig(0, 12);
            Assert.Equal(1, BitConverter.ToUInt16(cfg, 6));      // VIRTIO_NET_S_LINK_UP
            Assert.Equal(4, BitConverter.ToUInt16(cfg, 8));      // max_virtqueue_pairs
            fe.NetSetMtu(9000);
            Assert.Equal(9000, s.Mtu);
            Assert.Equal(9000, BitConverter.ToUInt16(fe.GetConfig(10, 2), 0));
            byte[] mac = { 0x52, 0x54, 0, 0xAB, 0xCD, 0xEF };
            fe.SendRarp(mac);
            Assert.Equal(mac, s.RarpMac);
            Assert.True(s.Device.RarpPending);
            Assert.Equal(mac, fe.GetConfig(0, 6));
            Assert.Equal((ulong)GuestMemory.MaxRegions, fe.GetMaxMemSlots());
            Assert.Equal(4UL, fe.GetQueueNum());
            var nack = Assert.Throws<VhostUserException>(() => fe.NetSetMtu(67));
            Assert.Contains("NET_SET_MTU", nack.Message);
            Assert.Equal(9000, s.Mtu);
        }
        finally { driver.Unregister(); }
    }

    [Fact]
    public void Memory_regions_are_hot_added_and_removed()
    {
        var (driver, events) = Backend("lc-hotplug");
        try
        {
            driver.Start();
            using FrontendMemory mem = FrontendMemory.Create(4 << 20);
            using FrontendMemory extra = FrontendMemory.Create(Enumerable.Repeat((ulong)(2 << 20), 16).ToArray(), baseGpa: 0x2_0000_0000);
            using var fe = VhostUserFrontend.Connect(driver.Path, Wait);
            fe.Start(mem, NetVrings.Allocate(mem, 1, 256, packed: false));
            VhostSession s = DeviceRegistry.Get(Vid(events.WaitFor("new_device", Wait)))!;
            foreach (var r in extra.Regions)
            {
                fe.AddMemReg(r);
                r.Host[100] = 0x5A;
                ulong len = 1;
                Assert.Equal(0x5A, s.Device.Memory!.GpaToHost(r.GuestPhysAddr + 100, ref len)[0]);
            }
            Assert.Equal(17, s.Device.Memory!.Count);
            DeviceWaits.Running(s);
            foreach (var r in extra.Regions.Take(15)) fe.RemMemReg(r);
            Assert.Equal(2, s.Device.Memory!.Count);
            Assert.True(s.Device.GetVring(0)!.IsReady);   // the rings live in the region that stayed
            using FrontendMemory never = FrontendMemory.Create(new ulong[] { 2 << 20 }, baseGpa: 0x3_0000_0000);
            var nack = Assert.Throws<VhostUserException>(() => fe.RemMemReg(never.Regions[0]));
            Assert.Contains("REM_MEM_REG", nack.Message);
        }
        finally { driver.Unregister(); }
    }

    /// <summary>
    /// QEMU before 8.0 (7.2 is Debian 12's) sends ADD_MEM_REG and REM_MEM_REG from every queue pair's vhost_dev. Found
    /// with QEMU 7.2, queues=2 (tests/qemu, boot mq): the second queue pair's ADD_MEM_REG of the same region was
    /// refused as an overlap, and QEMU fell back to userspace virtio with no backend behind it. An exact repeat is a
    /// no-op; the same addresses backed by another file are still refused.
    /// </summary>
    [Fact]
    public void Regions_added_and_removed_once_per_queue_pair_count_once()
    {
        var (driver, events) = Backend("lc-memdup");
        try
        {
            driver.Start();
            using FrontendMemory mem = FrontendMemory.Create(4 << 20);
            using FrontendMemory extra = FrontendMemory.Create(new ulong[] { 2 << 20, 2 << 20 }, baseGpa: 0x2_0000_0000);
            using FrontendMemory other = FrontendMemory.Create(new ulong[] { 2 << 20 }, baseGpa: 0x2_0000_0000);
            using var fe = VhostUserFrontend.Connect(driver.Path, Wait);
            fe.Start(mem, NetVrings.Allocate(mem, 2, 256, packed: false));
            VhostSession s = DeviceRegistry.Get(Vid(events.WaitFor("new_device", Wait)))!;
            foreach (var r in extra.Regions)
            {
                fe.AddMemReg(r);   // queue pair 0's vhost_dev
                fe.AddMemReg(r);   // queue pair 1's: the same region, the same file
            }
            Assert.Equal(3, s.Device.Memory!.Count);
            var overlap = Assert.Throws<VhostUserException>(() =>
                fe.AddMemReg(FrontendPayloads.Region(extra.Regions[0]), other.Regions[0].Fd));
            Assert.Contains("ADD_MEM_REG", overlap.Message);
            extra.Regions[1].Host[7] = 0xA5;
            ulong len = 1;
            Assert.Equal(0xA5, s.Device.Memory!.GpaToHost(extra.Regions[1].GuestPhysAddr + 7, ref len)[0]);

            foreach (var r in extra.Regions)
            {
                fe.RemMemReg(r);
                fe.RemMemReg(r);
            }
            Assert.Equal(1, s.Device.Memory!.Count);
            DeviceWaits.Running(s);
            Assert.True(s.Device.GetVring(3)!.IsReady);

            // Added back, a region is removed for real by the next REM_MEM_REG (it is no longer "already removed").
            fe.AddMemReg(extra.Regions[0]);
            Assert.Equal(2, s.Device.Memory!.Count);
            fe.RemMemReg(extra.Regions[0]);
            Assert.Equal(1, s.Device.Memory!.Count);
            // A region this connection never added is still unknown.
            var nack = Assert.Throws<VhostUserException>(() => fe.RemMemReg(other.Regions[0]));
            Assert.Contains("REM_MEM_REG", nack.Message);
            Assert.Equal(1, events.Count("new_device"));
        }
        finally { driver.Unregister(); }
    }

    [Fact]
    public void Reset_device_stops_the_device_and_it_can_start_again()
    {
        var (driver, events) = Backend("lc-reset");
        try
        {
            driver.Start();
            using FrontendMemory mem = FrontendMemory.Create(4 << 20);
            using var fe = VhostUserFrontend.Connect(driver.Path, Wait);
            fe.Start(mem, NetVrings.Allocate(mem, 1, 256, packed: false));
            int vid = Vid(events.WaitFor("new_device", Wait));
            fe.ResetDevice();
            events.WaitFor($"destroy_device {vid}", Wait);
            Assert.Equal(0UL, DeviceRegistry.Get(vid)!.Device.Features);
            mem.ResetAllocations();
            fe.Start(mem, NetVrings.Allocate(mem, 1, 256, packed: true));
            events.WaitFor($"new_device {vid}", Wait);
            Assert.True(DeviceRegistry.Get(vid)!.Device.IsPacked);
        }
        finally { driver.Unregister(); }
    }

    [Fact]
    public void Features_set_before_negotiation_are_what_the_frontend_sees()
    {
        var (driver, events) = Backend("lc-features");
        try
        {
            ulong packed = 1UL << HotPath.Engine.Virtio.VirtioFeatures.RingPacked;
            driver.DisableFeatures(packed);
            Assert.Equal(0UL, driver.Features & packed);
            Assert.Throws<VhostException>(() => driver.EnableFeatures(1UL << 60));
            driver.EnableFeatures(packed);
            driver.DisableFeatures(packed);
            driver.SetProtocolFeatures(ProtocolFeatures.Supported & ~ProtocolFeatures.Bit(ProtocolFeatures.Config));
            driver.Start();
            using var fe = VhostUserFrontend.Connect(driver.Path, Wait);
            Assert.Equal(0UL, fe.GetFeatures() & packed);
            fe.SetOwner();
            Assert.Equal(0UL, fe.GetProtocolFeatures() & ProtocolFeatures.Bit(ProtocolFeatures.Config));
            // Once a frontend is connected, the offer can no longer change under it.
            Assert.Throws<VhostException>(() => driver.EnableFeatures(packed));
        }
        finally { driver.Unregister(); }
    }
}
