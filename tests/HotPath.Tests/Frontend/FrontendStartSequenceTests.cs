using HotPath.Engine.Interop;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Wire;
using static HotPath.Protocol.Wire.FrontendRequest;

namespace HotPath.Tests.Frontend;

/// <summary>
/// The order and content of what Start/Stop send, decoded by the protocol's MessageReader on the other end of a
/// real socketpair: virtio-user's bring-up order, QEMU's stop order, REPLY_ACK only once negotiated, and every
/// field of the memory table and ring messages tied back to the frontend's memory and eventfds.
/// </summary>
public class FrontendStartSequenceTests
{
    private static readonly FrontendRequest[] RingSetup = [SetVringNum, SetVringBase, SetVringAddr, SetVringKick];

    private static FrontendRequest[] ExpectedStart(int vrings, bool protocol, bool mq = true) =>
        (protocol ? new[] { SetOwner, GetFeatures, GetProtocolFeatures, SetProtocolFeatures }
                    .Concat(mq ? [GetQueueNum] : []).Append(GetMaxMemSlots)
                  : [SetOwner, GetFeatures])
        .Concat(Enumerable.Repeat(SetVringCall, vrings))
        .Append(SetFeatures)
        .Concat(protocol ? [SetStatus, GetStatus] : [])
        .Append(SetMemTable)
        .Concat(Enumerable.Range(0, vrings).SelectMany(_ => RingSetup))
        .Concat(protocol ? Enumerable.Repeat(SetVringEnable, vrings).Append(SetStatus) : [])
        .ToArray();

    [Fact]
    public unsafe void Start_sends_virtio_users_sequence_and_every_field_matches_the_memory_and_eventfds()
    {
        using var backend = RecordingBackend.Pair(out int fd, b => b.KeepFds = true);
        using var fe = VhostUserFrontend.FromConnectedSocket(fd, "recording backend");
        using var mem = FrontendRig.Memory();
        var rings = NetVrings.Allocate(mem, 1, 256, packed: false);
        fe.Start(mem, rings);

        var msgs = backend.Messages;
        Assert.Equal(ExpectedStart(2, protocol: true), msgs.Select(m => m.Request));
        Assert.All(msgs, m => Assert.Equal((uint)m.Payload.Length, m.Size));

        // NEED_REPLY on every request without a reply of its own, from the first one after SET_PROTOCOL_FEATURES.
        int negotiated = msgs.ToList().FindIndex(m => m.Request == SetProtocolFeatures);
        for (int i = 0; i < msgs.Count; i++)
        {
            bool ack = i > negotiated && RequestRules.For(msgs[i].Request).Reply == ReplyKind.None;
            Assert.True((MessageHeader.Version | (ack ? MessageHeader.FlagNeedReply : 0)) == msgs[i].Flags,
                $"message {i} {msgs[i].Request}: flags 0x{msgs[i].Flags:x}");
        }

        Assert.Equal(ProtocolFeatures.Supported, msgs.Single(m => m.Request == SetProtocolFeatures).U64);
        ulong features = msgs.Single(m => m.Request == SetFeatures).U64;
        Assert.Equal(NetDeviceOptions.DefaultFeatures | VirtioFeatures.Bit(VirtioFeatures.ProtocolFeatures), features);
        Assert.Equal(features, fe.AckedFeatures);
        var statuses = msgs.Where(m => m.Request == SetStatus).Select(m => m.U64).ToArray();
        Assert.Equal(new ulong[] { 0x0B, 0x0F }, statuses);

        // SET_MEM_TABLE: both regions, the frontend's own addresses as QVAs, the very memfds as fds.
        var table = msgs.Single(m => m.Request == SetMemTable);
        Assert.Equal(2u, table.As<MemoryTableHeader>().NRegions);
        Assert.Equal(8 + 2 * 32, table.Payload.Length);
        for (int i = 0; i < 2; i++)
        {
            var r = System.Runtime.InteropServices.MemoryMarshal.Read<MemoryRegionPayload>(table.Payload.AsSpan(8 + 32 * i));
            var want = mem.Regions[i];
            Assert.Equal(want.GuestPhysAddr, r.GuestPhysAddr);
            Assert.Equal(want.Size, r.MemorySize);
            Assert.Equal(want.UserAddr, r.UserspaceAddr);
            Assert.Equal(0UL, r.MmapOffset);
            Assert.Equal(RecordingBackend.Inode(want.Fd), table.FdInodes[i]);
            Assert.Equal((long)want.Size, table.FdFileSizes[i]);
        }

        for (uint v = 0; v < 2; v++)
        {
            IRingLayout ring = rings[(int)v];
            var perRing = msgs.Where(m => m.Request is SetVringNum or SetVringBase or SetVringAddr or SetVringKick or SetVringCall
                                          && VringOf(m) == v).ToList();
            Assert.Equal(256u, perRing.Single(m => m.Request == SetVringNum).As<VringStatePayload>().Num);
            Assert.Equal(0u, perRing.Single(m => m.Request == SetVringBase).As<VringStatePayload>().Num);
            var addr = perRing.Single(m => m.Request == SetVringAddr).As<VringAddrPayload>();
            Assert.Equal(mem.UserAddr(ring.DescGpa), addr.DescUserAddr);
            Assert.Equal(mem.UserAddr(ring.DriverAreaGpa), addr.AvailUserAddr);
            Assert.Equal(mem.UserAddr(ring.DeviceAreaGpa), addr.UsedUserAddr);
            Assert.Equal(0u, addr.Flags);
            Assert.Equal(0UL, addr.LogGuestAddr);

            // The fds the backend got are the frontend's eventfds: a kick crosses to it, a call crosses back.
            var kick = perRing.Single(m => m.Request == SetVringKick);
            var call = perRing.Single(m => m.Request == SetVringCall);
            Assert.Equal((ulong)v, kick.U64);
            Assert.Equal((ulong)v, call.U64);
            Assert.True(fe.Notifiers[(int)v].Kick());
            Assert.Equal(1UL, LibC.EventFdDrain(Assert.Single(kick.Fds)));
            Assert.True(LibC.EventFdSignal(Assert.Single(call.Fds)));
            Assert.Equal(1UL, fe.Notifiers[(int)v].WaitForCall(TimeSpan.FromSeconds(20)));
        }
        Assert.Equal(new uint[] { 0, 1 }, msgs.Where(m => m.Request == SetVringEnable).Select(m => m.As<VringStatePayload>().Index));
        Assert.All(msgs.Where(m => m.Request == SetVringEnable), m => Assert.Equal(1u, m.As<VringStatePayload>().Num));
        Assert.True(fe.Started);
    }

    private static uint VringOf(RecordingBackend.Recorded m) => m.Request is SetVringKick or SetVringCall or SetVringErr
        ? (uint)(m.U64 & VringFdPayload.IndexMask)
        : m.As<VringStatePayload>().Index;

    [Fact]
    public void A_backend_without_protocol_features_gets_the_legacy_sequence_without_acks_status_or_enable()
    {
        using var backend = RecordingBackend.Pair(out int fd, b => b.Features = NetDeviceOptions.DefaultFeatures);
        using var fe = VhostUserFrontend.FromConnectedSocket(fd, "legacy backend");
        using var mem = FrontendRig.Memory();
        fe.Start(mem, NetVrings.Allocate(mem, 1, 128, packed: false));

        // Nothing is acknowledged without REPLY_ACK: wait for the backend to have read everything.
        Assert.True(backend.WaitForMessages(ExpectedStart(2, protocol: false).Length, TimeSpan.FromSeconds(5)));
        Assert.Equal(ExpectedStart(2, protocol: false), backend.Requests);
        Assert.All(backend.Messages, m => Assert.Equal(MessageHeader.Version, m.Flags));
        Assert.Equal(NetDeviceOptions.DefaultFeatures, backend.Messages.Single(m => m.Request == SetFeatures).U64);
        Assert.False(fe.ProtocolFeaturesNegotiated);
        Assert.Throws<InvalidOperationException>(() => fe.SetVringEnable(0, true));
    }

    [Fact]
    public void Four_packed_queue_pairs_negotiate_mq_and_ring_packed_and_start_with_the_wrap_counter_set()
    {
        using var backend = RecordingBackend.Pair(out int fd);
        using var fe = VhostUserFrontend.FromConnectedSocket(fd, "recording backend");
        using var mem = FrontendRig.Memory();
        fe.Start(mem, NetVrings.Allocate(mem, 4, 256, packed: true));

        Assert.Equal(ExpectedStart(8, protocol: true), backend.Requests);
        ulong f = backend.Messages.Single(m => m.Request == SetFeatures).U64;
        Assert.True(VirtioFeatures.Has(f, VirtioFeatures.RingPacked) && VirtioFeatures.Has(f, VirtioFeatures.NetMq)
                    && VirtioFeatures.Has(f, VirtioFeatures.Version1), VirtioFeatures.Describe(f));
        Assert.All(backend.Messages.Where(m => m.Request == SetVringBase), m => Assert.Equal(0x8000u, m.As<VringStatePayload>().Num));
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (ulong)i), backend.Messages.Where(m => m.Request == SetVringCall).Select(m => m.U64));
        Assert.Equal(8, fe.Notifiers.Count);
        Assert.Equal(8, fe.Notifiers.SelectMany(n => new[] { n.KickFd, n.CallFd }).Distinct().Count() / 2);
    }

    [Fact]
    public void Stop_follows_qemus_order_and_returns_the_bases_and_a_restart_reuses_the_eventfds()
    {
        using var backend = RecordingBackend.Pair(out int fd);
        using var fe = VhostUserFrontend.FromConnectedSocket(fd, "recording backend");
        using var mem = FrontendRig.Memory();
        var rings = NetVrings.Allocate(mem, 1, 256, packed: false);
        ((RingAreas)rings[0]).BaseIndex = 17;
        ((RingAreas)rings[1]).BaseIndex = 42;
        fe.Start(mem, rings);
        int[] eventfds = fe.Notifiers.SelectMany(n => new[] { n.KickFd, n.CallFd }).ToArray();
        int before = backend.Messages.Count;

        Assert.Equal(new uint[] { 17, 42 }, fe.Stop());
        var stop = backend.Messages.Skip(before).ToList();
        Assert.Equal(new[] { SetStatus, SetVringEnable, SetVringEnable, GetVringBase, GetVringBase }, stop.Select(m => m.Request));
        Assert.Equal(0UL, stop[0].U64);
        Assert.All(stop.Skip(1).Take(2), m => Assert.Equal(0u, m.As<VringStatePayload>().Num));
        Assert.False(fe.Started);

        before = backend.Messages.Count;
        fe.StartDevice(mem, rings);
        Assert.Equal(ExpectedStart(2, protocol: true).SkipWhile(r => r != SetVringCall), backend.Requests.Skip(before));
        Assert.Equal(eventfds, fe.Notifiers.SelectMany(n => new[] { n.KickFd, n.CallFd }));
    }

    [Fact]
    public void Error_fds_and_the_backend_channel_are_set_up_when_asked()
    {
        using var backend = RecordingBackend.Pair(out int fd);
        using var fe = VhostUserFrontend.FromConnectedSocket(fd, "recording backend");
        using var mem = FrontendRig.Memory();
        fe.Start(mem, NetVrings.Allocate(mem, 1, 64, packed: false), new NetDeviceOptions { ErrorFds = true, BackendChannel = true });

        var reqs = backend.Requests.ToList();
        Assert.Equal(reqs.IndexOf(GetMaxMemSlots) + 1, reqs.IndexOf(SetBackendReqFd));
        Assert.Equal(new[] { SetVringCall, SetVringErr, SetVringCall, SetVringErr },
            reqs.SkipWhile(r => r != SetVringCall).Take(4));
        Assert.All(backend.Messages.Where(m => m.Request == SetVringErr), m => Assert.Single(m.Fds));
        Assert.All(fe.Notifiers, n => Assert.True(n.ErrFd >= 0));
        Assert.NotNull(fe.BackendChannel);
    }

    [Fact]
    public void Negotiation_refuses_what_the_backend_cannot_carry_before_setting_features()
    {
        using var mem = FrontendRig.Memory();
        void Refused(Action<RecordingBackend> configure, int pairs, bool packed, string why, NetDeviceOptions? options = null)
        {
            using var backend = RecordingBackend.Pair(out int fd, configure);
            using var fe = VhostUserFrontend.FromConnectedSocket(fd, "recording backend");
            mem.ResetAllocations();
            var e = Assert.Throws<NotSupportedException>(() => fe.Start(mem, NetVrings.Allocate(mem, pairs, 64, packed), options));
            Assert.Contains(why, e.Message);
            Assert.DoesNotContain(SetFeatures, backend.Requests);
        }

        Refused(b => b.Features &= ~VirtioFeatures.Bit(VirtioFeatures.RingPacked), 1, packed: true, "RING_PACKED");
        Refused(b => b.QueueNum = 2, 4, packed: false, "supports 2 queue pairs");
        Refused(b => b.ProtocolFeatureBits &= ~ProtocolFeatures.Bit(ProtocolFeatures.Mq), 2, packed: false, "does not offer protocol feature MQ");
        Refused(b => b.ProtocolFeatureBits &= ~ProtocolFeatures.Bit(ProtocolFeatures.BackendReq), 1, packed: false, "BACKEND_REQ",
            new NetDeviceOptions { BackendChannel = true });
    }

    [Fact]
    public void A_backend_that_clears_features_ok_stops_the_start()
    {
        using var backend = RecordingBackend.Pair(out int fd, b => b.Intercept = (m, sock) =>
        {
            if (m.Request != GetStatus) return false;
            RecordingBackend.ReplyU64(sock, m, DeviceStatus.Acknowledge | DeviceStatus.Driver);
            return true;
        });
        using var fe = VhostUserFrontend.FromConnectedSocket(fd, "recording backend");
        using var mem = FrontendRig.Memory();
        var e = Assert.Throws<NotSupportedException>(() => fe.Start(mem, NetVrings.Allocate(mem, 1, 64, packed: false)));
        Assert.Contains("cleared FEATURES_OK", e.Message);
        Assert.DoesNotContain(SetMemTable, backend.Requests);
    }
}
