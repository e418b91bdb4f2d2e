using HotPath.Engine.Interop;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Wire;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Frontend;

/// <summary>
/// The typed requests beyond bring-up, and the malformed-message mode, against DPDK's backend: what DPDK
/// implements it must acknowledge (and log what it understood), what it refuses the hostile mode must observe as
/// a refusal (a non-zero ack or a closed connection), and DPDK must still serve a new frontend afterwards.
/// </summary>
[Collection(SerialCollection.Name)]
public class DpdkRequestTests
{
    private static readonly TimeSpan Wait = DpdkDevice.Wait;
    private static readonly TimeSpan Observe = TimeSpan.FromSeconds(2);

    [DpdkFact]
    public void Dpdk_acknowledges_the_optional_requests_it_implements()
    {
        using var device = DpdkDevice.Open("fe-optional", options: new NetDeviceOptions { BackendChannel = true, ErrorFds = true });
        DpdkBackend dpdk = device.Dpdk;
        VhostUserFrontend fe = device.Frontend;
        Assert.NotNull(fe.BackendChannel);   // SET_BACKEND_REQ_FD was acked with 0
        dpdk.Expect("read message VHOST_USER_SET_VRING_ERR", Wait, 2);

        Assert.Equal(fe.MaxQueuePairs, fe.GetQueueNum());
        fe.SendRarp([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        fe.NetSetMtu(9000);

        // Dirty log: a memfd DPDK maps; it answers once mapped.
        const ulong logSize = 64 << 10;
        int logFd = HostileFds.Memfd(logSize, "hotpath-dirty-log");
        int logEvent = HostileFds.EventFd();
        try
        {
            fe.SetLogBase(logFd, logSize);
            dpdk.Expect($"log mmap size: {logSize}, offset: 0", Wait);
            fe.SetLogFd(logEvent);
        }
        finally
        {
            LibC.close(logFd);
            LibC.close(logEvent);
        }

        // DPDK 22.11 serves GET/SET_INFLIGHT_FD without offering INFLIGHT_SHMFD: ask anyway, typed.
        Assert.False(fe.CanSend(FrontendRequest.GetInflightFd));
        fe.EnforceProtocolFeatures = false;
        using (InflightArea area = fe.GetInflightFd(2, 256))
        {
            Assert.True(area.MmapSize > 0);
            Assert.True(area.FileSize >= (long)area.MmapSize, $"fd of {area.FileSize} bytes for an area of {area.MmapSize}");
            Assert.Equal((2, 256), (area.NumQueues, area.QueueSize));
            dpdk.Expect($"send inflight mmap_size: {area.MmapSize}", Wait);
            fe.SetInflightFd(area);
            dpdk.Expect($"set_inflight_fd mmap_size: {area.MmapSize}", Wait);
        }
        fe.EnforceProtocolFeatures = true;

        // CONFIG is not offered by DPDK's net backend: the typed frontend does not send it.
        Assert.Throws<InvalidOperationException>(() => fe.GetConfig(0, 6));
        Assert.Equal(new uint[] { 0, 0 }, fe.Stop());
        fe.ResetOwner();
        Assert.Equal(0, dpdk.Count("vhost peer closed"));
        Assert.False(fe.IsBroken);
    }

    [DpdkFact]
    public void Hostile_mode_observes_dpdk_refusing_by_nack_or_by_closing_and_dpdk_survives()
    {
        using var device = DpdkDevice.Open("fe-hostile", start: false);
        DpdkBackend dpdk = device.Dpdk;
        string sock = dpdk.SocketPath;

        // An unknown request: with NEED_REPLY DPDK answers 1 and carries on; without it, it hangs up.
        using (var h = HostileConnection.Connect(sock, FrontendRig.Connect))
        {
            using (HostileMessage m = HostileFraming.UnknownRequest(99).WithNeedReply())
            using (HostileOutcome o = h.SendAndObserve(m, Observe))
            {
                Assert.Equal(HostileResult.Replied, o.Result);
                Assert.Equal(99u, o.Reply!.Header.Request);
                Assert.Equal(1UL, o.ReplyU64);
                Assert.True(o.Refused, o.ToString());
            }
            Assert.True(h.IsAlive(Observe, out string detail), detail);
            using (HostileMessage m = HostileFraming.UnknownRequest(99))
            using (HostileOutcome o = h.SendAndObserve(m, Observe))
                Assert.Equal(HostileResult.Closed, o.Result);
            dpdk.Expect("vhost message (req: 99) was not handled", Wait, 2);
        }

        // SET_FEATURES with bits never offered, on a negotiated connection: a NACK, and the session goes on.
        VhostUserFrontend fe = device.Frontend;
        fe.Negotiate(1, packed: false);
        using (HostileMessage m = HostileNegotiation.FeaturesNeverOffered(fe.BackendFeatures).WithNeedReply())
        using (HostileOutcome o = fe.Hostile.SendAndObserve(m, Observe))
            Assert.Equal(1UL, o.ReplyU64);
        dpdk.Expect("received invalid negotiated features", Wait);
        Assert.True(fe.Hostile.IsAlive(Observe, out string alive), alive);

        // A vring index DPDK does not have: refused by closing, whatever the flags say.
        using (HostileMessage m = HostileVrings.Index(FrontendRequest.SetVringNum, 0x10000).WithNeedReply())
        using (HostileOutcome o = fe.Hostile.SendAndObserve(m, Observe))
            Assert.Equal(HostileResult.Closed, o.Result);
        dpdk.Expect("invalid vring index: 65536", Wait);

        // More fds than DPDK's 8-fd control buffer: the kernel truncates them (MSG_CTRUNC); DPDK keeps the 8 that
        // fit, sees 8 fds on a one-fd message and hangs up.
        using (var h = HostileConnection.Connect(sock, FrontendRig.Connect))
        using (HostileMessage m = HostileFraming.TooManyFds(9))
        using (HostileOutcome o = h.SendAndObserve(m, Observe))
            Assert.Equal(HostileResult.Closed, o.Result);
        dpdk.Expect("truncated control data", Wait);
        dpdk.Expect("expect 1 FDs for request VHOST_USER_SET_VRING_CALL, received 8", Wait);

        // A header promising 40 bytes, 8 sent, then a close in the middle of the message.
        using (var h = HostileConnection.Connect(sock, FrontendRig.Connect))
        using (HostileMessage m = HostileFraming.SizeAboveBytesSent(40, 8))
            Assert.Equal(0, h.SendThenClose(m, 8));
        dpdk.Expect("read control message failed", Wait);

        // DPDK still serves a well-behaved frontend.
        using var again = VhostUserFrontend.Connect(sock, FrontendRig.Connect);
        again.Start(device.Memory, device.Rings);
        dpdk.Expect("virtio is now ready for processing", Wait);
        Assert.False(dpdk.HasExited);
    }
}
