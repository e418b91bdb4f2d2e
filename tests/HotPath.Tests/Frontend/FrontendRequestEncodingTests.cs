using System.Runtime.InteropServices;
using HotPath.Engine.Interop;
using HotPath.Frontend.Memory;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;
using static HotPath.Protocol.Wire.FrontendRequest;

namespace HotPath.Tests.Frontend;

/// <summary>
/// Each typed request's bytes and fds, decoded by the protocol's MessageReader on the other end of a socketpair,
/// and what the frontend makes of the replies. The connection has every protocol feature negotiated, so each set
/// request also travels with NEED_REPLY.
/// </summary>
public class FrontendRequestEncodingTests : IDisposable
{
    private readonly RecordingBackend _backend;
    private readonly VhostUserFrontend _fe;
    private readonly FrontendMemory _mem = FrontendRig.Memory();

    public FrontendRequestEncodingTests()
    {
        _backend = RecordingBackend.Pair(out int fd, b => b.KeepFds = true);
        _fe = VhostUserFrontend.FromConnectedSocket(fd, "recording backend");
        _fe.Negotiate(1, packed: false);
    }

    public void Dispose()
    {
        _fe.Dispose();
        _backend.Dispose();
        _mem.Dispose();
    }

    /// <summary>The message <paramref name="send"/> produced (requests with replies or acks are synchronous).</summary>
    private RecordingBackend.Recorded Sent(FrontendRequest request, Action send)
    {
        int before = _backend.Messages.Count;
        send();
        RecordingBackend.Recorded m = Assert.Single(_backend.Messages.Skip(before));
        Assert.Equal(request, m.Request);
        Assert.Equal((uint)m.Payload.Length, m.Size);
        bool ack = RequestRules.For(request).Reply == ReplyKind.None;
        Assert.Equal(MessageHeader.Version | (ack ? MessageHeader.FlagNeedReply : 0), m.Flags);
        return m;
    }

    [Fact]
    public void Vring_fd_requests_carry_the_index_the_nofd_bit_and_the_fd()
    {
        int efd = HostileFds.EventFd();
        try
        {
            var kick = Sent(SetVringKick, () => _fe.SetVringKick(3, efd));
            Assert.Equal(3UL, kick.U64);
            Assert.True(LibC.EventFdSignal(efd));
            Assert.Equal(1UL, LibC.EventFdDrain(Assert.Single(kick.Fds)));   // the same eventfd

            var call = Sent(SetVringCall, () => _fe.SetVringCall(7, -1));
            Assert.Equal(0x107UL, call.U64);
            Assert.Empty(call.Fds);

            var err = Sent(SetVringErr, () => _fe.SetVringErr(255, efd));
            Assert.Equal(255UL, err.U64);
            Assert.Single(err.Fds);
        }
        finally
        {
            LibC.close(efd);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => _fe.SetVringErr(256, -1));
    }

    [Fact]
    public void Vring_state_requests_carry_index_and_num_and_get_vring_base_reads_the_reply()
    {
        var num = Sent(SetVringNum, () => _fe.SetVringNum(2, 1024)).As<VringStatePayload>();
        Assert.Equal((2u, 1024u), (num.Index, num.Num));
        var bas = Sent(SetVringBase, () => _fe.SetVringBase(2, 0x8000 | 99)).As<VringStatePayload>();
        Assert.Equal((2u, 0x8000u | 99), (bas.Index, bas.Num));
        var off = Sent(SetVringEnable, () => _fe.SetVringEnable(5, false)).As<VringStatePayload>();
        Assert.Equal((5u, 0u), (off.Index, off.Num));

        uint got = 0;
        var get = Sent(GetVringBase, () => got = _fe.GetVringBase(2)).As<VringStatePayload>();
        Assert.Equal((2u, 0u), (get.Index, get.Num));
        Assert.Equal(0x8000u | 99, got);
    }

    [Fact]
    public void Set_vring_addr_carries_the_rings_qvas_in_desc_used_avail_order()
    {
        var ring = NetVrings.Allocate(_mem, 1, 512, packed: true)[1];
        var m = Sent(SetVringAddr, () => _fe.SetVringAddr(1, ring, _mem));
        Assert.Equal(40, m.Payload.Length);
        Assert.Equal(1u, BitConverter.ToUInt32(m.Payload, 0));
        Assert.Equal(0u, BitConverter.ToUInt32(m.Payload, 4));
        Assert.Equal(_mem.UserAddr(ring.DescGpa), BitConverter.ToUInt64(m.Payload, 8));
        Assert.Equal(_mem.UserAddr(ring.DeviceAreaGpa), BitConverter.ToUInt64(m.Payload, 16));
        Assert.Equal(_mem.UserAddr(ring.DriverAreaGpa), BitConverter.ToUInt64(m.Payload, 24));
        Assert.Equal(0UL, BitConverter.ToUInt64(m.Payload, 32));
    }

    [Fact]
    public void Device_requests_carry_their_u64_or_nothing_and_u64_replies_are_returned()
    {
        Assert.Equal(0x0FUL, Sent(SetStatus, () => _fe.SetStatus(0x0F)).U64);
        byte status = 0;
        Assert.Empty(Sent(GetStatus, () => status = _fe.GetStatus()).Payload);
        Assert.Equal(0x0F, status);
        Assert.Equal(9000UL, Sent(NetSetMtu, () => _fe.NetSetMtu(9000)).U64);
        byte[] mac = [0x52, 0x54, 0x00, 0xAB, 0xCD, 0xEF];
        Assert.Equal(mac.Concat(new byte[2]), Sent(SendRarp, () => _fe.SendRarp(mac)).Payload);
        Assert.Empty(Sent(ResetDevice, _fe.ResetDevice).Payload);
        Assert.Empty(Sent(ResetOwner, _fe.ResetOwner).Payload);
        ulong q = 0, slots = 0;
        Sent(GetQueueNum, () => q = _fe.GetQueueNum());
        Sent(GetMaxMemSlots, () => slots = _fe.GetMaxMemSlots());
        Assert.Equal((8UL, 32UL), (q, slots));
        Assert.Equal(32UL, _fe.MaxMemSlots);
    }

    [Fact]
    public void Memory_slot_requests_carry_a_padded_region_and_only_add_carries_the_fd()
    {
        FrontendMemory.Region r = _mem.Regions[1];
        var add = Sent(AddMemReg, () => _fe.AddMemReg(r));
        Assert.Equal(40, add.Payload.Length);
        Assert.Equal(0UL, BitConverter.ToUInt64(add.Payload, 0));
        var region = MemoryMarshal.Read<MemoryRegionPayload>(add.Payload.AsSpan(8));
        Assert.Equal((r.GuestPhysAddr, r.Size, r.UserAddr, 0UL), (region.GuestPhysAddr, region.MemorySize, region.UserspaceAddr, region.MmapOffset));
        Assert.Equal(RecordingBackend.Inode(r.Fd), Assert.Single(add.FdInodes));

        var rem = Sent(RemMemReg, () => _fe.RemMemReg(r));
        Assert.Equal(add.Payload, rem.Payload);
        Assert.Empty(rem.Fds);
    }

    [Fact]
    public void Log_requests_carry_size_offset_and_fd_and_accept_an_empty_reply()
    {
        int log = HostileFds.Memfd(1 << 20), efd = HostileFds.EventFd();
        try
        {
            var m = Sent(SetLogBase, () => _fe.SetLogBase(log, 0x8000, 0x1000));
            var payload = m.As<LogPayload>();
            Assert.Equal((0x8000UL, 0x1000UL), (payload.MmapSize, payload.MmapOffset));
            Assert.Equal(RecordingBackend.Inode(log), Assert.Single(m.FdInodes));

            var fdMsg = Sent(SetLogFd, () => _fe.SetLogFd(efd));
            Assert.Empty(fdMsg.Payload);
            Assert.Single(fdMsg.Fds);
        }
        finally
        {
            LibC.close(log);
            LibC.close(efd);
        }
    }

    [Fact]
    public void Inflight_requests_round_trip_the_area_and_its_fd()
    {
        InflightArea? area = null;
        var get = Sent(GetInflightFd, () => area = _fe.GetInflightFd(2, 256));
        using (area)
        {
            var ask = get.As<InflightPayload>();
            Assert.Equal(24, get.Payload.Length);
            Assert.Equal((0UL, 0UL, (ushort)2, (ushort)256), (ask.MmapSize, ask.MmapOffset, ask.NumQueues, ask.QueueSize));
            Assert.Equal((4096UL, (ushort)2, (ushort)256), (area!.MmapSize, area.NumQueues, area.QueueSize));
            Assert.Equal(4096L, area.FileSize);

            var set = Sent(SetInflightFd, () => _fe.SetInflightFd(area));
            Assert.Equal(FrontendPayloads.Of(area.Payload), set.Payload);
            Assert.Equal(RecordingBackend.Inode(area.Fd), Assert.Single(set.FdInodes));
        }
    }

    [Fact]
    public void Config_requests_carry_offset_size_flags_and_data_and_get_config_returns_the_data()
    {
        byte[] data = [];
        var get = Sent(GetConfig, () => data = _fe.GetConfig(4, 8));
        Assert.Equal(12 + 8, get.Payload.Length);
        Assert.Equal((4u, 8u, 0u), (BitConverter.ToUInt32(get.Payload, 0), BitConverter.ToUInt32(get.Payload, 4), BitConverter.ToUInt32(get.Payload, 8)));
        Assert.Equal(Enumerable.Range(12, 8).Select(i => (byte)(0xC0 + i)), data);

        var set = Sent(SetConfig, () => _fe.SetConfig(16, [1, 2, 3], flags: 1));
        Assert.Equal(new byte[] { 16, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3 }, set.Payload);

        Assert.Throws<ArgumentOutOfRangeException>(() => _fe.GetConfig(250, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => _fe.GetConfig(0, 257));
    }

    [Fact]
    public void The_backend_channel_carries_backend_requests_and_the_frontend_answers_when_asked()
    {
        var m = Sent(SetBackendReqFd, () => _fe.SetBackendReqFd());
        Assert.Empty(m.Payload);
        int backendEnd = Assert.Single(m.Fds);
        BackendChannel channel = _fe.BackendChannel!;

        // CONFIG_CHANGE_MSG with NEED_REPLY: the frontend replies with REPLY and u64 0.
        Assert.Equal(0, MessageWriter.Send(backendEnd, (uint)BackendRequest.ConfigChangeMsg,
            MessageHeader.Version | MessageHeader.FlagNeedReply, default));
        using (BackendMessage? got = channel.ServeOne(TimeSpan.FromSeconds(20), _ => 0))
        {
            Assert.Equal(BackendRequest.ConfigChangeMsg, got!.Request);
            Assert.Equal("CONFIG_CHANGE_MSG", got.Name);
            Assert.True(got.NeedReply);
        }
        using var reader = new MessageReader(readsReplies: true);
        Assert.Equal(ReadStatus.Message, reader.Read(backendEnd));
        Assert.Equal((uint)BackendRequest.ConfigChangeMsg, reader.Header.Request);
        Assert.Equal(MessageHeader.Version | MessageHeader.FlagReply, reader.Header.Flags);
        Assert.Equal(0UL, reader.PayloadAs<ulong>());
        reader.Next();

        // Without NEED_REPLY nothing comes back; a handler's failure code goes back when asked.
        Assert.Equal(0, MessageWriter.Send(backendEnd, (uint)BackendRequest.VringCall, MessageHeader.Version,
            FrontendPayloads.VringState(1, 0)));
        using (BackendMessage? got = channel.ServeOne(TimeSpan.FromSeconds(20), _ => 7))
            Assert.Equal(1u, MemoryMarshal.Read<VringStatePayload>(got!.Payload).Index);
        Assert.Equal(0, HotPath.Frontend.VhostUser.PollCalls.WaitReadable(backendEnd, 100));
        Assert.Equal(0, MessageWriter.Send(backendEnd, (uint)BackendRequest.IotlbMsg,
            MessageHeader.Version | MessageHeader.FlagNeedReply, new byte[32]));
        channel.ServeOne(TimeSpan.FromSeconds(20), _ => 7)!.Dispose();
        Assert.Equal(ReadStatus.Message, reader.Read(backendEnd));
        Assert.Equal(7UL, reader.PayloadAs<ulong>());

        Assert.Null(channel.Read(TimeSpan.FromMilliseconds(50)));
    }

    [Fact]
    public void Typed_requests_the_negotiation_does_not_allow_are_refused_before_anything_is_sent()
    {
        using var backend = RecordingBackend.Pair(out int fd, b => b.ProtocolFeatureBits = ProtocolFeatures.Bit(ProtocolFeatures.ReplyAck));
        using var fe = VhostUserFrontend.FromConnectedSocket(fd, "recording backend");
        Assert.Contains("GET_FEATURES was not sent yet", Assert.Throws<InvalidOperationException>(() => fe.GetProtocolFeatures()).Message);
        fe.Negotiate(1, packed: false);
        Assert.True(backend.WaitForMessages(4, TimeSpan.FromSeconds(20)));   // SET_PROTOCOL_FEATURES is not acked
        int sent = backend.Messages.Count;

        var e = Assert.Throws<InvalidOperationException>(() => fe.SetStatus(1));
        Assert.Contains("SET_STATUS needs protocol feature STATUS", e.Message);
        Assert.Throws<InvalidOperationException>(() => fe.GetQueueNum());
        Assert.Throws<InvalidOperationException>(() => fe.SetBackendReqFd());
        Assert.Throws<ArgumentException>(() => fe.SetFeatures(ulong.MaxValue));
        Assert.Throws<ArgumentException>(() => fe.SetProtocolFeatures(ulong.MaxValue));
        Assert.Equal(sent, backend.Messages.Count);

        fe.EnforceProtocolFeatures = false;
        fe.SetStatus(1);
        Assert.Equal(SetStatus, backend.Messages[^1].Request);
    }
}
