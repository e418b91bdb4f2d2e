using HotPath.Protocol.Control;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Protocol;

/// <summary>DPDK's real virtio-user frontend negotiating with HotPath's control plane.</summary>
[Collection(SerialCollection.Name)]
public class DpdkVirtioUserControlTests
{
    private static string SocketPath(string name) => $"/tmp/hp-{name}-{Environment.ProcessId}.sock";

    [DpdkFact]
    public void Virtio_user_reaches_device_ready_against_the_server()
    {
        string path = SocketPath("vu-server");
        var events = new DeviceEventLog();
        var driver = VhostDriver.Register(path, VhostDriverFlags.None);
        try
        {
            driver.RegisterCallbacks(events);
            driver.Start();
            using var peer = new VirtioUserPeer(path, "rxonly");
            string ready = events.WaitFor("new_device", TimeSpan.FromSeconds(30));
            int vid = int.Parse(ready.Split(' ')[1]);
            VhostSession session = DeviceRegistry.Get(vid)!;
            DeviceWaits.Running(session);
            Assert.True(session.Device.Memory!.Count >= 1);
            Assert.True(HotPath.Engine.Virtio.VirtioFeatures.Has(session.Device.Features, HotPath.Engine.Virtio.VirtioFeatures.Version1));
            peer.Stop();
            events.WaitFor($"destroy_device {vid}", TimeSpan.FromSeconds(15));
            events.WaitFor($"destroy_connection {vid}", TimeSpan.FromSeconds(15));
            Assert.Null(DeviceRegistry.Get(vid));
        }
        finally { driver.Unregister(); }
    }

    [DpdkFact]
    public void Client_mode_connects_to_a_virtio_user_server_and_reconnects_after_its_restart()
    {
        string path = SocketPath("vu-client");
        var events = new DeviceEventLog();
        var driver = VhostDriver.Register(path, VhostDriverFlags.Client);
        try
        {
            driver.RegisterCallbacks(events);
            // The frontend is not there yet: start must succeed and keep retrying in the background.
            driver.Start();
            for (int round = 1; round <= 2; round++)
            {
                EventMark mark = events.Mark();   // this round's events only
                using var peer = new VirtioUserPeer(path, "rxonly", server: true);
                string ready = events.WaitFor("new_device", TimeSpan.FromSeconds(30), mark);
                int vid = int.Parse(ready.Split(' ')[1]);
                DeviceWaits.Running(vid);
                peer.Stop();
                events.WaitFor($"destroy_connection {vid}", TimeSpan.FromSeconds(15), mark);
            }
            Assert.Equal(2, events.Count("new_device"));
            Assert.Equal(2, events.Count("destroy_device"));
        }
        finally { driver.Unregister(); }
    }
}
