using System.Runtime.InteropServices;
using HotPath.Engine.Interop;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;
using static HotPath.Protocol.Wire.FrontendRequest;

namespace HotPath.Tests.Frontend;

/// <summary>
/// Every malformed-message builder puts exactly the bytes and fds it names on the wire: read back raw (no framing)
/// from the other end of a socketpair, header lies included.
/// </summary>
public class HostileBuilderTests
{
    private const ulong TwoMiB = 2 << 20;
    private const uint V = MessageHeader.Version;

    /// <summary>What a builder must send: header fields, payload length, fds (and their file sizes), and field checks.</summary>
    private sealed record Wire(FrontendRequest Request, uint Flags, uint SizeField, int PayloadBytes, int Fds = 0, long FdSize = -1,
        Action<byte[]>? Check = null)
    {
        public Wire(uint request, uint flags, uint sizeField, int payloadBytes) : this((FrontendRequest)request, flags, sizeField, payloadBytes) { }
    }

    private static T At<T>(byte[] p, int offset) where T : unmanaged => MemoryMarshal.Read<T>(p.AsSpan(offset));
    private static MemoryRegionPayload Region(byte[] p, int i) => At<MemoryRegionPayload>(p, 8 + 32 * i);
    private static Wire Table(int regions, int fds, Action<byte[]>? check = null, long fdSize = (long)TwoMiB) =>
        new(SetMemTable, V, (uint)(8 + 32 * regions), 8 + 32 * regions, fds, fdSize, check);

    private static readonly Dictionary<string, (Func<HostileMessage> Make, Wire Want)> Cases = new()
    {
        ["size above maximum"] = (() => HostileFraming.SizeAboveMaximum(), new Wire(SetVringNum, V, 0x1000_0000, 8)),
        ["size below struct"] = (() => HostileFraming.SizeBelowStruct(SetVringAddr, 8), new Wire(SetVringAddr, V, 8, 8)),
        ["size above bytes sent"] = (() => HostileFraming.SizeAboveBytesSent(40, 8), new Wire(SetVringAddr, V, 40, 8)),
        ["unknown id 99"] = (() => HostileFraming.UnknownRequest(99), new Wire(99u, V, 8, 8)),
        ["unknown id max"] = (() => HostileFraming.UnknownRequest(uint.MaxValue), new Wire(uint.MaxValue, V, 8, 8)),
        ["version 0"] = (() => HostileFraming.BadVersion(0), new Wire(GetFeatures, 0, 0, 0)),
        ["version 3"] = (() => HostileFraming.BadVersion(3), new Wire(GetFeatures, 3, 0, 0)),
        ["reply flag"] = (HostileFraming.ReplyFlagOnRequest, new Wire(GetFeatures, V | MessageHeader.FlagReply, 0, 0)),
        ["unknown flags"] = (() => HostileFraming.UnknownFlags(), new Wire(GetFeatures, 0xFFFF_FFF1, 0, 0)),
        ["fds on GET_FEATURES"] = (() => HostileFraming.FdsOnGetFeatures(2), new Wire(GetFeatures, V, 0, 0, 2, 0)),
        ["fd on SET_VRING_NUM"] = (HostileFraming.FdOnSetVringNum, new Wire(SetVringNum, V, 8, 8, 1, 0)),
        ["too many fds"] = (() => HostileFraming.TooManyFds(MessageLimits.MaxFds + 1),
            new Wire(SetVringCall, V, 8, 8, MessageLimits.MaxFds + 1, 0, p => Assert.Equal(0UL, At<ulong>(p, 0)))),
        ["kick without fd"] = (HostileFraming.KickWithoutFd, new Wire(SetVringKick, V, 8, 8, Check: p => Assert.Equal(0UL, At<ulong>(p, 0)))),

        ["no regions"] = (HostileMemoryTables.NoRegions, Table(0, 0, p => Assert.Equal(0u, At<uint>(p, 0)))),
        ["65 regions"] = (() => HostileMemoryTables.TooManyRegions(65), Table(65, 65, p =>
        {
            Assert.Equal(65u, At<uint>(p, 0));
            Assert.Equal(Enumerable.Range(0, 65).Select(i => HostileMemoryTables.Region(i)), Enumerable.Range(0, 65).Select(i => Region(p, i)));
        })),
        ["declares 3 carries 1"] = (() => HostileMemoryTables.DeclaresMoreThanCarried(3), Table(1, 1, p => Assert.Equal(3u, At<uint>(p, 0)))),
        ["zero-sized region"] = (HostileMemoryTables.ZeroSizedRegion, Table(1, 1, p => Assert.Equal(0UL, Region(p, 0).MemorySize))),
        ["gpa overflow"] = (HostileMemoryTables.GpaOverflow, Table(1, 1, p =>
            Assert.True(Region(p, 0).GuestPhysAddr > ulong.MaxValue - Region(p, 0).MemorySize))),
        ["uaddr overflow"] = (HostileMemoryTables.UserAddrOverflow, Table(1, 1, p =>
            Assert.True(Region(p, 0).UserspaceAddr > ulong.MaxValue - Region(p, 0).MemorySize))),
        ["offset overflow"] = (HostileMemoryTables.MmapOffsetOverflow, Table(1, 1, p =>
            Assert.True(Region(p, 0).MmapOffset > ulong.MaxValue - Region(p, 0).MemorySize))),
        ["overlapping gpa"] = (HostileMemoryTables.OverlappingGpa, Table(2, 2, p =>
        {
            Assert.InRange(Region(p, 1).GuestPhysAddr, Region(p, 0).GuestPhysAddr, Region(p, 0).GuestPhysAddr + Region(p, 0).MemorySize - 1);
            Assert.True(Region(p, 1).UserspaceAddr >= Region(p, 0).UserspaceAddr + Region(p, 0).MemorySize);
        })),
        ["overlapping qva"] = (HostileMemoryTables.OverlappingQva, Table(2, 2, p =>
        {
            Assert.InRange(Region(p, 1).UserspaceAddr, Region(p, 0).UserspaceAddr, Region(p, 0).UserspaceAddr + Region(p, 0).MemorySize - 1);
            Assert.True(Region(p, 1).GuestPhysAddr >= Region(p, 0).GuestPhysAddr + Region(p, 0).MemorySize);
        })),
        ["larger than fd"] = (HostileMemoryTables.LargerThanFd, Table(1, 1, p => Assert.Equal(2 * TwoMiB, Region(p, 0).MemorySize))),
        ["offset past fd end"] = (HostileMemoryTables.OffsetPastFdEnd, Table(1, 1, p => Assert.Equal(TwoMiB, Region(p, 0).MmapOffset))),
        ["fewer fds than regions"] = (() => HostileMemoryTables.FewerFdsThanRegions(2, 1), Table(2, 1, p => Assert.Equal(2u, At<uint>(p, 0)))),

        ["vring num index 0x10000"] = (() => HostileVrings.Index(SetVringNum, 0x10000), new Wire(SetVringNum, V, 8, 8,
            Check: p => Assert.Equal((0x10000u, 256u), (At<uint>(p, 0), At<uint>(p, 4))))),
        ["get base index max"] = (() => HostileVrings.Index(GetVringBase, uint.MaxValue), new Wire(GetVringBase, V, 8, 8,
            Check: p => Assert.Equal(uint.MaxValue, At<uint>(p, 0)))),
        ["enable index 0x10000"] = (() => HostileVrings.Index(SetVringEnable, 0x10000), new Wire(SetVringEnable, V, 8, 8,
            Check: p => Assert.Equal((0x10000u, 1u), (At<uint>(p, 0), At<uint>(p, 4))))),
        ["addr index 0x10000"] = (() => HostileVrings.Index(SetVringAddr, 0x10000), new Wire(SetVringAddr, V, 40, 40,
            Check: p => Assert.Equal(0x10000u, At<uint>(p, 0)))),
        ["call reserved bits"] = (() => HostileVrings.FdIndex(SetVringCall, 0x10000), new Wire(SetVringCall, V, 8, 8, 1, 0,
            p => Assert.Equal(0x10000UL, At<ulong>(p, 0)))),
        ["kick nofd bad index"] = (() => HostileVrings.FdIndex(SetVringKick, 0x1FF), new Wire(SetVringKick, V, 8, 8,
            Check: p => Assert.Equal(0x1FFUL, At<ulong>(p, 0)))),
        ["num 0"] = (HostileVrings.NumZero, new Wire(SetVringNum, V, 8, 8, Check: p => Assert.Equal(0u, At<uint>(p, 4)))),
        ["num 1000"] = (HostileVrings.NumNotPowerOfTwo, new Wire(SetVringNum, V, 8, 8, Check: p => Assert.Equal(1000u, At<uint>(p, 4)))),
        ["num 65536"] = (HostileVrings.NumAboveMaximum, new Wire(SetVringNum, V, 8, 8, Check: p => Assert.Equal(65536u, At<uint>(p, 4)))),

        ["log overflow"] = (HostileRegions.LogBaseOverflow, new Wire(SetLogBase, V, 16, 16, 1, (long)TwoMiB,
            p => Assert.True(At<ulong>(p, 8) > ulong.MaxValue - At<ulong>(p, 0)))),
        ["log larger than fd"] = (HostileRegions.LogBaseLargerThanFd, new Wire(SetLogBase, V, 16, 16, 1, (long)TwoMiB,
            p => Assert.Equal(2 * TwoMiB, At<ulong>(p, 0)))),
        ["log without fd"] = (HostileRegions.LogBaseWithoutFd, new Wire(SetLogBase, V, 16, 16)),
        ["inflight overflow"] = (HostileRegions.SetInflightOverflow, new Wire(SetInflightFd, V, 24, 24, 1, (long)TwoMiB,
            p => Assert.True(At<ulong>(p, 8) > ulong.MaxValue - At<ulong>(p, 0)))),
        ["inflight larger than fd"] = (HostileRegions.SetInflightLargerThanFd, new Wire(SetInflightFd, V, 24, 24, 1, (long)TwoMiB,
            p => Assert.Equal(2 * TwoMiB, At<ulong>(p, 0)))),
        ["inflight huge counts"] = (HostileRegions.SetInflightHugeCounts, new Wire(SetInflightFd, V, 24, 24, 1, (long)TwoMiB,
            p => Assert.Equal((ushort.MaxValue, ushort.MaxValue), (At<ushort>(p, 16), At<ushort>(p, 18))))),
        ["inflight zero queues"] = (HostileRegions.SetInflightZeroQueues, new Wire(SetInflightFd, V, 24, 24, 1, (long)TwoMiB,
            p => Assert.Equal(0, At<ushort>(p, 16)))),
        ["get inflight huge"] = (() => HostileRegions.GetInflight(0xFFFF, 0xFFFF), new Wire(GetInflightFd, V, 24, 24,
            Check: p => Assert.Equal((0UL, ushort.MaxValue, ushort.MaxValue), (At<ulong>(p, 0), At<ushort>(p, 16), At<ushort>(p, 18))))),
        ["add region gpa overflow"] = (HostileRegions.AddMemRegGpaOverflow, new Wire(AddMemReg, V, 40, 40, 1, (long)TwoMiB,
            p => Assert.True(At<ulong>(p, 8) > ulong.MaxValue - At<ulong>(p, 16)))),
        ["add region offset overflow"] = (HostileRegions.AddMemRegOffsetOverflow, new Wire(AddMemReg, V, 40, 40, 1, (long)TwoMiB,
            p => Assert.True(At<ulong>(p, 32) > ulong.MaxValue - At<ulong>(p, 16)))),
        ["add region larger than fd"] = (HostileRegions.AddMemRegLargerThanFd, new Wire(AddMemReg, V, 40, 40, 1, (long)TwoMiB,
            p => Assert.Equal(2 * TwoMiB, At<ulong>(p, 16)))),
        ["add region zero size"] = (HostileRegions.AddMemRegZeroSize, new Wire(AddMemReg, V, 40, 40, 1, (long)TwoMiB,
            p => Assert.Equal(0UL, At<ulong>(p, 16)))),
        ["add region without fd"] = (HostileRegions.AddMemRegWithoutFd, new Wire(AddMemReg, V, 40, 40)),
        ["remove unknown region"] = (HostileRegions.RemMemRegUnknown, new Wire(RemMemReg, V, 40, 40,
            Check: p => Assert.Equal(HostileMemoryTables.Region(5), At<MemoryRegionPayload>(p, 8)))),

        ["features never offered"] = (() => HostileNegotiation.FeaturesNeverOffered(0x1_3000_8000), new Wire(SetFeatures, V, 8, 8,
            Check: p => Assert.Equal(ulong.MaxValue, At<ulong>(p, 0)))),
        ["protocol features unsupported"] = (() => HostileNegotiation.ProtocolFeaturesUnsupported(0xF), new Wire(SetProtocolFeatures, V, 8, 8,
            Check: p => Assert.Equal(ulong.MaxValue, At<ulong>(p, 0)))),
        ["SET_STATUS unnegotiated"] = (() => HostileNegotiation.WithoutProtocolFeature(SetStatus), new Wire(SetStatus, V, 8, 8)),
        ["GET_QUEUE_NUM unnegotiated"] = (() => HostileNegotiation.WithoutProtocolFeature(GetQueueNum), new Wire(GetQueueNum, V, 0, 0)),
        ["SET_BACKEND_REQ_FD unnegotiated"] = (() => HostileNegotiation.WithoutProtocolFeature(SetBackendReqFd), new Wire(SetBackendReqFd, V, 0, 0, 1, 0)),
        ["config size 257"] = (() => HostileNegotiation.ConfigSizeAboveMaximum(), new Wire(GetConfig, V, 12 + 256, 12 + 256,
            Check: p => Assert.Equal((0u, 257u), (At<uint>(p, 0), At<uint>(p, 4))))),
        ["config past end"] = (() => HostileNegotiation.ConfigPastEnd(SetConfig), new Wire(SetConfig, V, 12 + 16, 12 + 16,
            Check: p => Assert.Equal((248u, 16u), (At<uint>(p, 0), At<uint>(p, 4))))),
        ["config offset overflow"] = (() => HostileNegotiation.ConfigOffsetOverflow(), new Wire(GetConfig, V, 12 + 16, 12 + 16,
            Check: p => Assert.True(At<uint>(p, 0) > uint.MaxValue - At<uint>(p, 4)))),
        ["need reply added"] = (() => HostileFraming.FdOnSetVringNum().WithNeedReply(),
            new Wire(SetVringNum, V | MessageHeader.FlagNeedReply, 8, 8, 1, 0)),
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Builder_sends_exactly_the_bytes_and_fds_it_names(string name)
    {
        (Func<HostileMessage> make, Wire want) = Cases[name];
        (int ours, int theirs) = UnixSockets.Pair();
        using var h = HostileConnection.FromConnectedSocket(ours, "raw peer");
        using HostileMessage m = make();
        Assert.Equal(0, h.Send(m));
        (byte[] bytes, int[] fds, _) = RawPeer.ReadAll(theirs, expectBytes: MessageHeader.WireSize + want.PayloadBytes);
        try
        {
            Assert.Equal(MessageHeader.WireSize + want.PayloadBytes, bytes.Length);
            var header = MemoryMarshal.Read<MessageHeader>(bytes);
            Assert.Equal(((uint)want.Request, want.Flags, want.SizeField), (header.Request, header.Flags, header.Size));
            Assert.Equal(m.Payload, bytes[MessageHeader.WireSize..]);
            Assert.Equal(want.Fds, fds.Length);
            if (want.FdSize >= 0) Assert.All(fds, fd => Assert.Equal(want.FdSize, LibC.FileSize(fd)));
            want.Check?.Invoke(bytes[MessageHeader.WireSize..]);
            Assert.True(m.SecurityCase is >= 1 and <= 10, $"{m.Name} names no SECURITY.md case");
        }
        finally
        {
            RawPeer.Close(fds);
            LibC.close(theirs);
        }
    }

    [Fact]
    public void Ring_address_builders_move_only_the_field_they_name()
    {
        using var mem = FrontendRig.Memory();
        var ring = NetVrings.Allocate(mem, 1, 256, packed: false)[0];
        VringAddrPayload good = HostileVrings.Good(mem, ring, 0);
        VringAddrPayload Addr(HostileMessage m)
        {
            using (m)
            {
                Assert.Equal(SetVringAddr, m.Request);
                Assert.Equal(6, m.SecurityCase);
                Assert.Equal((uint)m.Payload.Length, m.Header.Size);
                return MemoryMarshal.Read<VringAddrPayload>(m.Payload);
            }
        }
        bool InMemory(ulong qva) => mem.Regions.Any(r => qva >= r.UserAddr && qva < r.UserAddr + r.Size);

        Assert.Equal(good, Addr(HostileVrings.BeforeMemTable(mem, ring, 0)));
        var outside = Addr(HostileVrings.OutsideMemory(mem, ring, 0, RingArea.Used));
        Assert.False(InMemory(outside.UsedUserAddr));
        Assert.Equal(good with { UsedUserAddr = outside.UsedUserAddr }, outside);
        var past = Addr(HostileVrings.RunsPastRegionEnd(mem, ring, 0));
        Assert.Equal(mem.Regions[0].UserAddr + mem.Regions[0].Size - 16, past.DescUserAddr);
        Assert.Equal((8UL, good.AvailUserAddr, good.UsedUserAddr),
            (Addr(HostileVrings.Misaligned(mem, ring, 0, RingArea.Desc)).DescUserAddr % 16, good.AvailUserAddr, good.UsedUserAddr));
        Assert.Equal(1UL, Addr(HostileVrings.Misaligned(mem, ring, 0, RingArea.Avail)).AvailUserAddr % 2);
        Assert.Equal(2UL, Addr(HostileVrings.Misaligned(mem, ring, 0, RingArea.Used)).UsedUserAddr % 4);
        Assert.Equal(good with { Flags = 0xFFFF_FFFE }, Addr(HostileVrings.UnknownFlags(mem, ring, 0)));
    }

    [Fact]
    public void Send_then_close_sends_the_header_and_part_of_the_payload_then_hangs_up()
    {
        (int ours, int theirs) = UnixSockets.Pair();
        using var h = HostileConnection.FromConnectedSocket(ours, "raw peer");
        using HostileMessage m = HostileMemoryTables.Table("one region", [HostileMemoryTables.Region(0)]);
        Assert.Equal(0, h.SendThenClose(m, 10));
        (byte[] bytes, int[] fds, bool closed) = RawPeer.ReadAll(theirs);
        RawPeer.Close(fds);
        LibC.close(theirs);
        Assert.True(closed);
        Assert.Equal(12 + 10, bytes.Length);
        Assert.Equal(40u, MemoryMarshal.Read<MessageHeader>(bytes).Size);
        Assert.Single(fds);
    }

    [Fact]
    public void Raw_bytes_may_stop_inside_the_header()
    {
        (int ours, int theirs) = UnixSockets.Pair();
        using var h = HostileConnection.FromConnectedSocket(ours, "raw peer");
        Assert.Equal(0, h.SendRaw([1, 0, 0, 0, 1]));
        Assert.Throws<ArgumentException>(() => h.SendRaw([1, 0, 0], [0]));
        (byte[] bytes, int[] fds, _) = RawPeer.ReadAll(theirs);
        LibC.close(theirs);
        Assert.Equal(new byte[] { 1, 0, 0, 0, 1 }, bytes);
        Assert.Empty(fds);
    }

    [Fact]
    public void Observe_tells_a_reply_a_close_silence_and_garbage_apart()
    {
        TimeSpan wait = TimeSpan.FromMilliseconds(200);
        (int ours, int theirs) = UnixSockets.Pair();
        using var h = HostileConnection.FromConnectedSocket(ours, "raw peer");

        using (HostileOutcome o = h.Observe(wait)) Assert.Equal(HostileResult.NoReply, o.Result);

        MessageWriter.SendU64(theirs, (uint)SetVringNum, V | MessageHeader.FlagReply, 1);
        using (HostileOutcome o = h.Observe(wait))
        {
            Assert.Equal(HostileResult.Replied, o.Result);
            Assert.Equal(1UL, o.ReplyU64);
            Assert.True(o.Refused);
        }

        MessageWriter.SendU64(theirs, (uint)SetVringNum, V, 0);   // no REPLY flag: not a reply
        using (HostileOutcome o = h.Observe(wait))
        {
            Assert.Equal(HostileResult.MalformedReply, o.Result);
            Assert.Equal(FramingError.MissingReplyFlag, o.Framing);
        }

        (int ours2, int theirs2) = UnixSockets.Pair();
        using var h2 = HostileConnection.FromConnectedSocket(ours2, "raw peer");
        LibC.close(theirs2);
        using (HostileOutcome o = h2.Observe(wait)) Assert.Equal(HostileResult.Closed, o.Result);
        using (HostileMessage m = HostileVrings.NumZero())
        using (HostileOutcome o = h2.SendAndObserve(m, wait))
            Assert.Equal(HostileResult.Closed, o.Result);   // the send itself finds the peer gone
        LibC.close(theirs);
    }

    [Fact]
    public void Repeat_sends_fresh_copies_and_counts_outcomes_until_a_close()
    {
        using var backend = RecordingBackend.Pair(out int fd);
        using var h = HostileConnection.FromConnectedSocket(fd, "recording backend");
        var tally = h.Repeat(() => HostileVrings.Num(256).WithNeedReply(), 50, TimeSpan.FromSeconds(20));
        Assert.Equal(50, tally[HostileResult.Replied]);
        Assert.True(backend.WaitForMessages(50, TimeSpan.FromSeconds(20)));
        Assert.All(backend.Messages, m => Assert.Equal(SetVringNum, m.Request));
    }
}
