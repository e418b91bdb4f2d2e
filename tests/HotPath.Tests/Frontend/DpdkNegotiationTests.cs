using System.Globalization;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Wire;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Frontend;

/// <summary>
/// HotPath's frontend against DPDK's own vhost-user backend (testpmd, net_vhost): DPDK must take the device to
/// "ready" and say so in its log, agree on what was negotiated, hand back the ring bases, and see reconnects as
/// new devices.
/// </summary>
[Collection(SerialCollection.Name)]
public class DpdkNegotiationTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = DpdkDevice.Wait;
    private const string LinkChange = "Port 0: link state change event";

    internal static ulong LoggedHex(DpdkBackend dpdk, string prefix)
    {
        string line = dpdk.Lines(prefix).Last();
        string hex = line[(line.IndexOf(prefix, StringComparison.Ordinal) + prefix.Length)..].Trim();
        return ulong.Parse(hex.StartsWith("0x") ? hex[2..] : hex, NumberStyles.HexNumber);
    }

    [DpdkTheory]
    [InlineData(1, false)]
    [InlineData(1, true)]
    [InlineData(4, false)]
    [InlineData(4, true)]
    public void Dpdk_takes_the_device_to_ready_with_what_the_frontend_negotiated(int pairs, bool packed)
    {
        using var device = DpdkDevice.Open("fe-ready", pairs: pairs, packed: packed);   // waits for "virtio is now ready"
        DpdkBackend dpdk = device.Dpdk;
        VhostUserFrontend fe = device.Frontend;
        dpdk.Expect(LinkChange, Wait);   // testpmd saw the port's link come up (net_vhost's new_device)

        // DPDK's view of the negotiation is the frontend's.
        Assert.Equal(fe.AckedFeatures, LoggedHex(dpdk, "negotiated Virtio features:"));
        Assert.Equal(fe.AckedProtocolFeatures, LoggedHex(dpdk, "negotiated Vhost-user protocol features:"));
        Assert.Equal(packed, VirtioFeatures.Has(fe.AckedFeatures, VirtioFeatures.RingPacked));
        Assert.Equal(pairs > 1, VirtioFeatures.Has(fe.AckedFeatures, VirtioFeatures.NetMq));
        Assert.True(VirtioFeatures.Has(fe.AckedFeatures, VirtioFeatures.Version1));
        Assert.True(VirtioFeatures.Has(fe.AckedFeatures, VirtioFeatures.ProtocolFeatures));
        foreach (int bit in new[] { ProtocolFeatures.Mq, ProtocolFeatures.ReplyAck, ProtocolFeatures.Status })
            Assert.True(fe.HasProtocolFeature(bit), ProtocolFeatures.Name(bit));
        Assert.True(fe.MaxQueuePairs >= (ulong)pairs);
        Assert.Equal(0x0F, fe.GetStatus());

        // DPDK mapped the frontend's regions at the frontend's addresses.
        foreach (FrontendMemory.Region r in device.Memory.Regions)
        {
            Assert.Contains($"guest physical addr: 0x{r.GuestPhysAddr:x}", dpdk.Log);
            Assert.Contains($"guest virtual  addr: 0x{r.UserAddr:x}", dpdk.Log);
        }
        // Every vring got its kick and call eventfd and was enabled.
        for (int v = 0; v < 2 * pairs; v++)
        {
            Assert.Single(dpdk.Lines($"vring kick idx:{v} file:"));
            Assert.Single(dpdk.Lines($"vring call idx:{v} file:"));
            Assert.Single(dpdk.Lines($"set queue enable: 1 to qp idx: {v}"));
        }
        Assert.False(dpdk.HasExited);
    }

    [DpdkTheory]
    [InlineData(false)]
    [InlineData(true)]
    public unsafe void Get_vring_base_returns_the_bases_the_rings_started_from(bool packed)
    {
        string sock = DpdkBackend.NewSocketPath("fe-base");
        using var dpdk = DpdkBackend.Start(sock);
        using FrontendMemory mem = FrontendRig.Memory();
        var rings = NetVrings.Allocate(mem, 1, 256, packed);
        // Start part-way through the index space, as after a migration. Split: the ring memory agrees (avail and
        // used idx equal the base: an empty ring). Packed: index and wrap counter; both wrap values are covered.
        uint[] bases = packed ? [0x8000u | 300, 77] : [1000, 65535];
        for (int i = 0; i < rings.Count; i++)
        {
            rings[i].BaseIndex = bases[i];
            if (!packed)
            {
                *(ushort*)(mem.Host(rings[i].DriverAreaGpa) + SplitRingLayout.AvailIdxOffset) = (ushort)bases[i];
                *(ushort*)(mem.Host(rings[i].DeviceAreaGpa) + SplitRingLayout.UsedIdxOffset) = (ushort)bases[i];
            }
        }
        using var fe = VhostUserFrontend.Connect(sock, FrontendRig.Connect);
        fe.Start(mem, rings);
        dpdk.Expect("virtio is now ready for processing", Wait);

        Assert.Equal(bases, fe.Stop());
        for (int i = 0; i < bases.Length; i++)
            dpdk.Expect($"vring base idx:{i} file:{bases[i]}", Wait);
        dpdk.Expect(LinkChange, Wait, 2);   // GET_VRING_BASE stopped the device: the link went down
        Assert.DoesNotContain("mismatches", dpdk.Log);
    }

    [DpdkFact]
    public void Reply_ack_turns_a_refusal_into_a_nack_and_the_connection_keeps_working()
    {
        using var device = DpdkDevice.Open("fe-ack");   // every set request of the start was acked with 0
        DpdkBackend dpdk = device.Dpdk;
        VhostUserFrontend fe = device.Frontend;

        fe.NetSetMtu(1500);
        var e = Assert.Throws<VhostUserException>(() => fe.NetSetMtu(10));
        Assert.Equal(VhostUserFailure.Nack, e.Failure);
        Assert.Equal(FrontendRequest.NetSetMtu, e.Request);
        Assert.Contains("NET_SET_MTU", e.Message);
        dpdk.Expect("invalid MTU size (10)", Wait);

        Assert.False(fe.IsBroken);
        Assert.Equal(0x0F, fe.GetStatus());
        Assert.Equal(0, dpdk.Count("vhost peer closed"));
    }

    [DpdkFact]
    public void Without_reply_ack_a_refused_request_closes_the_connection_and_the_next_request_says_so()
    {
        using var device = DpdkDevice.Open("fe-noack", requestAcks: false);
        DpdkBackend dpdk = device.Dpdk;
        VhostUserFrontend fe = device.Frontend;

        fe.NetSetMtu(10);   // no NEED_REPLY: DPDK can only refuse by hanging up
        dpdk.Expect("vhost message handling failed", Wait);
        var e = Assert.Throws<VhostUserException>(() => fe.GetFeatures());
        Assert.True(e.Failure is VhostUserFailure.Closed or VhostUserFailure.SendFailed, e.Message);
        Assert.Contains("GET_FEATURES", e.Message);
        Assert.True(fe.IsBroken);
        Assert.Equal(VhostUserFailure.Broken, Assert.Throws<VhostUserException>(() => fe.GetStatus()).Failure);
    }

    [DpdkFact]
    public void Disconnect_and_reconnect_give_dpdk_a_new_device_each_time()
    {
        string sock = DpdkBackend.NewSocketPath("fe-reconnect");
        using var dpdk = DpdkBackend.Start(sock);
        using FrontendMemory mem = FrontendRig.Memory();
        for (int round = 1; round <= 3; round++)
        {
            mem.ResetAllocations();
            using (var fe = VhostUserFrontend.Connect(sock, FrontendRig.Connect))
            {
                fe.Start(mem, NetVrings.Allocate(mem, 1, 256, packed: round == 2));
                dpdk.Expect("virtio is now ready for processing", Wait, round);
                dpdk.Expect(LinkChange, Wait, 2 * round - 1);
            }
            dpdk.Expect("vhost peer closed", Wait, round);
            dpdk.Expect(LinkChange, Wait, 2 * round);   // link down: DPDK destroyed the device
        }
        Assert.Equal(3, dpdk.Count("new device, handle is"));
    }

    [DpdkFact]
    public void Server_mode_accepts_dpdk_as_a_client_backend_and_again_when_it_reconnects()
    {
        string sock = DpdkBackend.NewSocketPath("fe-server");
        using var listener = VhostUserListener.Listen(sock);
        using var dpdk = DpdkBackend.Start(sock, new DpdkBackend.Options { Client = true });
        using FrontendMemory mem = FrontendRig.Memory();
        for (int round = 1; round <= 2; round++)
        {
            mem.ResetAllocations();
            using var fe = listener.Accept(TimeSpan.FromSeconds(10));
            fe.Start(mem, NetVrings.Allocate(mem, 1, 256, packed: false));
            dpdk.Expect("virtio is now ready for processing", Wait, round);
        }
        dpdk.Expect("new device, handle is", Wait, 2);
    }

    [DpdkFact]
    public void Connect_start_disconnect_cycles_against_dpdk_leak_no_fds()
    {
        string sock = DpdkBackend.NewSocketPath("fe-cycles");
        using var dpdk = DpdkBackend.Start(sock);
        using FrontendMemory mem = FrontendRig.Memory();
        var rings = NetVrings.Allocate(mem, 1, 256, packed: false);
        var options = new NetDeviceOptions { BackendChannel = true, ErrorFds = true };
        void Cycle()
        {
            using var fe = VhostUserFrontend.Connect(sock, FrontendRig.Connect);
            fe.Start(mem, rings, options);
        }

        Cycle();   // warm-up: lazily opened runtime fds are not a leak
        int before = FrontendRig.OpenFds();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int cycles = 0;
        while (cycles < 10_000 && clock.Elapsed < TimeSpan.FromSeconds(4))
        {
            Cycle();
            cycles++;
        }
        Assert.Equal(before, FrontendRig.OpenFds());
        output.WriteLine($"{cycles} connect/start/disconnect cycles in {clock.Elapsed.TotalSeconds:0.0} s; {before} fds before and after");
        Assert.True(cycles >= 50, $"only {cycles} cycles in {clock.Elapsed}");
        dpdk.Expect("virtio is now ready for processing", Wait, cycles + 1);
        Assert.False(dpdk.HasExited);
    }
}
