using HotPath.Engine.Interop;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Protocol.Wire;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Security;

/// <summary>
/// SECURITY.md control-message cases 1-10 against HotPath's backend: every case is refused with its specific reason
/// (connection closed, or a non-zero REPLY_ACK when the frontend asked for one), counted, logged, and repeating it
/// leaks no fd, mapping or memory. The backend keeps serving well-behaved frontends afterwards.
/// </summary>
[Collection(SerialCollection.Name)]
public class ControlMessageCaseTests(HostileBackend backend, ITestOutputHelper output) : IClassFixture<HostileBackend>
{
    /// <summary>A framing-level case: raw connection, the backend must close it, every time.</summary>
    private void AssertClosesEveryTime(string name, Func<HostileMessage> make, ControlError reason)
    {
        Once(make, reason, HostileResult.Closed, raw: true);
        var before = ResourceSnapshot.Take();
        long counted = ControlCounters.Refused(reason);
        for (int i = 0; i < HostileBackend.ReconnectReps; i++)
        {
            using var h = HostileConnection.Connect(backend.Path, TimeSpan.FromSeconds(5));
            using HostileMessage m = make();
            using HostileOutcome o = h.SendAndObserve(m, HostileBackend.Observe);
            Assert.True(o.Result == HostileResult.Closed, $"{name} #{i}: {o}");
        }
        backend.WaitIdle();
        Assert.True(ControlCounters.Refused(reason) - counted >= HostileBackend.ReconnectReps, $"{name}: not counted as {reason}");
        before.AssertFlat(name);
        AssertBackendServes();
    }

    /// <summary>
    /// A semantic case after negotiation: with NEED_REPLY the backend nacks and keeps the connection (repeated
    /// <see cref="HostileBackend.Reps"/> times on it); without NEED_REPLY it closes.
    /// </summary>
    private void AssertNackedThenClosed(string name, Func<VhostUserFrontend, HostileMessage> make, ControlError reason,
        FrontendMemory? memory = null, uint? ringSize = null)
    {
        // Without NEED_REPLY: the connection ends.
        using (VhostUserFrontend fe = backend.Negotiated(memory, ringSize))
        {
            using HostileMessage m = make(fe);
            using HostileOutcome o = fe.Hostile.SendAndObserve(m, HostileBackend.Observe);
            Assert.True(o.Result == HostileResult.Closed, $"{name} without NEED_REPLY: {o}");
        }
        backend.WaitIdle();

        var before = ResourceSnapshot.Take();
        long counted = ControlCounters.Refused(reason);
        using (VhostUserFrontend fe = backend.Negotiated(memory, ringSize))
        {
            for (int i = 0; i < HostileBackend.Reps; i++)
            {
                using HostileMessage m = make(fe).WithNeedReply();
                using HostileOutcome o = fe.Hostile.SendAndObserve(m, HostileBackend.Observe);
                Assert.True(o.ReplyU64 is > 0, $"{name} #{i}: expected a non-zero ack, got {o}");
            }
            Assert.True(fe.Hostile.IsAlive(HostileBackend.Observe, out string detail), $"{name}: connection died: {detail}");
        }
        backend.WaitIdle();
        Assert.True(ControlCounters.Refused(reason) - counted >= HostileBackend.Reps, $"{name}: not counted as {reason}");
        before.AssertFlat(name);
        AssertBackendServes();
    }

    private void Once(Func<HostileMessage> make, ControlError reason, HostileResult expected, bool raw)
    {
        long counted = ControlCounters.Refused(reason);
        using var h = HostileConnection.Connect(backend.Path, TimeSpan.FromSeconds(5));
        using HostileMessage m = make();
        using HostileOutcome o = h.SendAndObserve(m, HostileBackend.Observe);
        output.WriteLine($"{m.Name}: {o}");
        Assert.Equal(expected, o.Result);
        backend.WaitIdle();
        Assert.True(ControlCounters.Refused(reason) > counted, $"{m.Name}: expected the refusal to be counted as {reason}");
    }

    /// <summary>After the attack, an honest frontend still brings a device up.</summary>
    private void AssertBackendServes()
    {
        using FrontendMemory mem = FrontendMemory.Create(4 << 20);
        using var fe = VhostUserFrontend.Connect(backend.Path, TimeSpan.FromSeconds(5));
        int before = backend.Events.Count("new_device");
        fe.Start(mem, NetVrings.Allocate(mem, 1, 256, packed: false));
        backend.Events.WaitFor("new_device", TimeSpan.FromSeconds(10));
        Assert.Equal(before + 1, backend.Events.Count("new_device"));
    }

    // ---- case 1: header size and framing ----

    [Fact] public void Case01_size_above_the_largest_payload_closes() =>
        AssertClosesEveryTime("size above maximum", () => HostileFraming.SizeAboveMaximum(), ControlError.Framing);

    [Fact] public void Case01_size_below_the_messages_struct_closes() =>
        AssertClosesEveryTime("size below struct", () => HostileFraming.SizeBelowStruct(), ControlError.BadPayloadSize);

    [Fact] public void Case01_unknown_request_id_closes() =>
        AssertClosesEveryTime("unknown request", () => HostileFraming.UnknownRequest(), ControlError.UnknownRequest);

    [Fact] public void Case01_version_bits_other_than_1_close() =>
        AssertClosesEveryTime("bad version", () => HostileFraming.BadVersion(), ControlError.Framing);

    [Fact] public void Case01_reply_flag_on_a_request_closes() =>
        AssertClosesEveryTime("reply flag on request", () => HostileFraming.ReplyFlagOnRequest(), ControlError.Framing);

    [Fact]
    public void Case01_peer_closing_mid_message_is_counted_and_leaks_nothing()
    {
        var before = ResourceSnapshot.Take();
        long counted = ControlCounters.Refused(ControlError.Framing);
        for (int i = 0; i < HostileBackend.ReconnectReps; i++)
        {
            using var h = HostileConnection.Connect(backend.Path, TimeSpan.FromSeconds(5));
            using HostileMessage m = HostileMemoryTables.LargerThanFd();   // carries an fd, promises 40 bytes
            Assert.Equal(0, h.SendThenClose(m, payloadBytes: 3));
        }
        // The test closes each connection itself: the last one may not even be accepted yet, so "no connections"
        // alone does not mean every close was handled. Wait for the count, then for the backend to be idle.
        SpinWait.SpinUntil(() => ControlCounters.Refused(ControlError.Framing) - counted >= HostileBackend.ReconnectReps, TimeSpan.FromSeconds(10));
        backend.WaitIdle();
        long refused = ControlCounters.Refused(ControlError.Framing) - counted;
        Assert.True(refused >= HostileBackend.ReconnectReps, $"{refused} of {HostileBackend.ReconnectReps} mid-message closes counted");
        before.AssertFlat("closed mid-message");
        AssertBackendServes();
    }

    /// <summary>Issue 11: a frontend that sends part of a message and then stalls, or connects and says nothing, holds
    /// only its own connection: an honest frontend is served meanwhile, and the stalled ones are counted when they go.</summary>
    [Fact]
    public void Case01_stalled_senders_do_not_hold_up_other_frontends()
    {
        long counted = ControlCounters.Refused(ControlError.Framing);
        var silent = new List<HostileConnection>();
        try
        {
            // A hundred connections that never say anything (SECURITY.md 20: many idle connections at once).
            for (int i = 0; i < 100; i++) silent.Add(HostileConnection.Connect(backend.Path, TimeSpan.FromSeconds(5)));
            using var stalled = HostileConnection.Connect(backend.Path, TimeSpan.FromSeconds(5));
            using HostileMessage m = HostileFraming.SizeAboveBytesSent(40, 8);
            Assert.Equal(0, stalled.Send(m));        // 12 + 8 of the 12 + 40 bytes promised, and then nothing
            for (int i = 0; i < 3; i++) AssertBackendServes();
        }
        finally
        {
            foreach (var c in silent) c.Dispose();
        }
        Assert.True(SpinWait.SpinUntil(() => ControlCounters.Refused(ControlError.Framing) > counted, TimeSpan.FromSeconds(10)),
            "closing in the middle of a message was not counted");
        backend.WaitIdle();
        AssertBackendServes();
    }

    // ---- case 2: fds ----

    [Fact] public void Case02_fds_on_a_message_that_takes_none_close() =>
        AssertClosesEveryTime("fds on GET_FEATURES", () => HostileFraming.FdsOnGetFeatures(2), ControlError.BadFdCount);

    [Fact] public void Case02_too_many_fds_close() =>
        AssertClosesEveryTime("too many fds", () => HostileFraming.TooManyFds(), ControlError.Framing);

    [Fact] public void Case02_fewer_fds_than_regions_close() =>
        AssertClosesEveryTime("fewer fds than regions", () => HostileMemoryTables.FewerFdsThanRegions(), ControlError.BadFdCount);

    [Fact] public void Case02_kick_without_fd_and_without_nofd_closes() =>
        AssertClosesEveryTime("kick without fd", () => HostileFraming.KickWithoutFd(), ControlError.BadFdCount);

    // ---- case 3: vring index out of range (u32, never truncated to u16) ----

    public static IEnumerable<object[]> IndexedRequests =>
        from r in new[] { FrontendRequest.SetVringNum, FrontendRequest.SetVringAddr, FrontendRequest.SetVringBase,
                          FrontendRequest.SetVringEnable, FrontendRequest.GetVringBase }
        from i in new[] { 256u, 0x10000u, 0xFFFFFFFFu }
        select new object[] { r, i };

    [Theory]
    [MemberData(nameof(IndexedRequests))]
    public void Case03_vring_index_out_of_range_is_refused(FrontendRequest request, uint index) =>
        AssertNackedThenClosed($"{request} index 0x{index:x}", _ => HostileVrings.Index(request, index),
            ControlError.VringIndexOutOfRange);

    [Theory]
    [InlineData(FrontendRequest.SetVringKick)]
    [InlineData(FrontendRequest.SetVringCall)]
    [InlineData(FrontendRequest.SetVringErr)]
    public void Case03_fd_messages_with_bits_above_the_index_are_refused(FrontendRequest request) =>
        AssertNackedThenClosed($"{request} index 0x10000", _ => HostileVrings.FdIndex(request, 0x10000 | 0x100), ControlError.ReservedBitsSet);

    public static IEnumerable<object[]> NotEventFdCases =>
        from r in new[] { FrontendRequest.SetVringKick, FrontendRequest.SetVringCall, FrontendRequest.SetVringErr }
        from k in Enum.GetValues<HostileFds.NotEventFd>()
        select new object[] { r, k };

    /// <summary>Issue 11: a pipe as call fd blocked hp-fwd's forwarding thread in write() once its buffer was full.
    /// Only eventfds are taken as kick, call or err fds.</summary>
    [Theory]
    [MemberData(nameof(NotEventFdCases))]
    public void Case03_kick_call_and_err_fds_that_are_not_eventfds_are_refused(FrontendRequest request, HostileFds.NotEventFd kind) =>
        AssertNackedThenClosed($"{request} with a {kind}", _ =>
        {
            HostileMessage m = HostileVrings.NotAnEventFd(request, 0, kind, out int readEnd);
            if (readEnd >= 0) LibC.close(readEnd);   // refused before anything is written: the reader is not needed
            return m;
        }, ControlError.NotAnEventFd);

    /// <summary>SECURITY.md 19: the backend channel is read and written as a socket; any other fd is refused.</summary>
    [Theory]
    [InlineData("pipe")]
    [InlineData("eventfd")]
    [InlineData("memfd")]
    public void Case19_a_backend_channel_fd_that_is_not_a_socket_is_refused(string kind) =>
        AssertNackedThenClosed($"SET_BACKEND_REQ_FD with a {kind}", _ => HostileVrings.BackendChannelNotASocket(kind), ControlError.BadChannelFd);

    // ---- case 4: ring size ----

    [Fact] public void Case04_num_zero_is_refused() => AssertNackedThenClosed("num 0", _ => HostileVrings.NumZero(), ControlError.BadVringNum);
    [Fact] public void Case04_num_not_a_power_of_two_on_a_split_ring_is_refused() => AssertNackedThenClosed("num 1000", _ => HostileVrings.NumNotPowerOfTwo(), ControlError.BadVringNum);
    [Fact] public void Case04_num_above_32768_is_refused() => AssertNackedThenClosed("num 65536", _ => HostileVrings.NumAboveMaximum(), ControlError.BadVringNum);

    // ---- case 5: memory tables ----

    public static IEnumerable<object[]> BadTables => new[]
    {
        new object[] { "no regions", ControlError.BadMemoryTable },
        new object[] { "zero-sized region", ControlError.BadMemoryTable },
        new object[] { "gpa overflow", ControlError.BadMemoryTable },
        new object[] { "uaddr overflow", ControlError.BadMemoryTable },
        new object[] { "mmap_offset overflow", ControlError.BadMemoryTable },
        new object[] { "overlapping gpa", ControlError.BadMemoryTable },
        new object[] { "overlapping qva", ControlError.BadMemoryTable },
        new object[] { "larger than fd", ControlError.BadMemoryTable },
        new object[] { "offset past fd end", ControlError.BadMemoryTable },
    };

    private static HostileMessage Table(string name) => name switch
    {
        "no regions" => HostileMemoryTables.NoRegions(),
        "zero-sized region" => HostileMemoryTables.ZeroSizedRegion(),
        "gpa overflow" => HostileMemoryTables.GpaOverflow(),
        "uaddr overflow" => HostileMemoryTables.UserAddrOverflow(),
        "mmap_offset overflow" => HostileMemoryTables.MmapOffsetOverflow(),
        "overlapping gpa" => HostileMemoryTables.OverlappingGpa(),
        "overlapping qva" => HostileMemoryTables.OverlappingQva(),
        "larger than fd" => HostileMemoryTables.LargerThanFd(),
        "offset past fd end" => HostileMemoryTables.OffsetPastFdEnd(),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(BadTables))]
    public void Case05_bad_memory_tables_are_refused_and_map_nothing(string name, ControlError reason) =>
        AssertNackedThenClosed($"SET_MEM_TABLE {name}", _ => Table(name), reason);

    [Theory]
    [InlineData("pipe")]
    [InlineData("socket")]
    [InlineData("eventfd")]
    public void Case05_region_fds_that_cannot_be_mapped_are_refused(string kind) =>
        AssertNackedThenClosed($"region fd {kind}", _ => HostileMemoryTables.UnmappableFd(kind), ControlError.BadMemoryTable);

    [Fact] public void Case05_more_regions_than_the_maximum_close() =>
        AssertClosesEveryTime("too many regions", () => HostileMemoryTables.TooManyRegions(), ControlError.Framing);   // 65 fds: MSG_CTRUNC

    // ---- case 6: ring addresses ----

    public static IEnumerable<object[]> BadAddrs => new[]
    {
        new object[] { "desc outside memory" }, new object[] { "avail outside memory" }, new object[] { "used outside memory" },
        new object[] { "straddles region end" }, new object[] { "desc misaligned" }, new object[] { "avail misaligned" },
        new object[] { "used misaligned" }, new object[] { "unknown flags" },
    };

    [Theory]
    [MemberData(nameof(BadAddrs))]
    public void Case06_bad_ring_addresses_are_refused(string name)
    {
        using FrontendMemory mem = FrontendMemory.Create(new ulong[] { 4 << 20, 4 << 20 });
        RingAreas ring = RingAreas.AllocateSplit(mem, 256);
        AssertNackedThenClosed($"SET_VRING_ADDR {name}", _ => name switch
        {
            "desc outside memory" => HostileVrings.OutsideMemory(mem, ring, 0, RingArea.Desc),
            "avail outside memory" => HostileVrings.OutsideMemory(mem, ring, 0, RingArea.Avail),
            "used outside memory" => HostileVrings.OutsideMemory(mem, ring, 0, RingArea.Used),
            "straddles region end" => HostileVrings.RunsPastRegionEnd(mem, ring, 0),
            "desc misaligned" => HostileVrings.Misaligned(mem, ring, 0, RingArea.Desc),
            "avail misaligned" => HostileVrings.Misaligned(mem, ring, 0, RingArea.Avail),
            "used misaligned" => HostileVrings.Misaligned(mem, ring, 0, RingArea.Used),
            _ => HostileVrings.UnknownFlags(mem, ring, 0),
        }, ControlError.BadVringAddr, mem, ringSize: 256);
    }

    [Fact]
    public void Case06_a_ring_size_that_does_not_fit_the_addresses_already_given_is_refused()
    {
        // SET_VRING_ADDR before SET_VRING_NUM (no real frontend does this): the addresses start inside memory, so
        // they are kept, and the size that would make the descriptor table run past its region is refused.
        using FrontendMemory mem = FrontendMemory.Create(new ulong[] { 4 << 20, 4 << 20 });
        RingAreas ring = RingAreas.AllocateSplit(mem, 256);
        using VhostUserFrontend fe = backend.Negotiated(mem);
        using (HostileMessage addr = HostileVrings.RunsPastRegionEnd(mem, ring, 0).WithNeedReply())
        using (HostileOutcome o = fe.Hostile.SendAndObserve(addr, HostileBackend.Observe))
            Assert.True(o.ReplyU64 == 0, $"addresses with no size yet: {o}");
        long counted = ControlCounters.Refused(ControlError.BadVringNum);
        using (HostileMessage num = HostileVrings.Num(256).WithNeedReply())
        using (HostileOutcome o = fe.Hostile.SendAndObserve(num, HostileBackend.Observe))
            Assert.True(o.ReplyU64 is > 0, $"size that runs the ring past its region: {o}");
        Assert.Equal(counted + 1, ControlCounters.Refused(ControlError.BadVringNum));
    }

    [Fact]
    public void Case06_ring_addresses_before_any_memory_table_are_refused()
    {
        using FrontendMemory mem = FrontendMemory.Create(4 << 20);
        RingAreas ring = RingAreas.AllocateSplit(mem, 256);
        AssertNackedThenClosed("SET_VRING_ADDR before SET_MEM_TABLE", _ => HostileVrings.BeforeMemTable(mem, ring, 0),
            ControlError.BadVringAddr);
    }

    // ---- case 7: log, inflight, memory slots ----

    [Fact] public void Case07_log_base_offset_overflow_is_refused() => AssertNackedThenClosed("log overflow", _ => HostileRegions.LogBaseOverflow(), ControlError.BadLogBase);
    [Fact] public void Case07_log_base_larger_than_its_fd_is_refused() => AssertNackedThenClosed("log past fd", _ => HostileRegions.LogBaseLargerThanFd(), ControlError.BadLogBase);
    [Fact] public void Case07_set_inflight_offset_overflow_is_refused() => AssertNackedThenClosed("inflight overflow", _ => HostileRegions.SetInflightOverflow(), ControlError.BadInflight);
    [Fact] public void Case07_set_inflight_larger_than_its_fd_is_refused() => AssertNackedThenClosed("inflight past fd", _ => HostileRegions.SetInflightLargerThanFd(), ControlError.BadInflight);
    [Fact] public void Case07_set_inflight_with_huge_counts_is_refused() => AssertNackedThenClosed("inflight huge counts", _ => HostileRegions.SetInflightHugeCounts(), ControlError.BadInflight);
    [Fact] public void Case07_set_inflight_with_zero_queues_is_refused() => AssertNackedThenClosed("inflight zero queues", _ => HostileRegions.SetInflightZeroQueues(), ControlError.BadInflight);
    [Fact] public void Case07_get_inflight_with_huge_counts_is_refused() => AssertNackedThenClosed("get inflight huge", _ => HostileRegions.GetInflight(0xFFFF, 0xFFFF), ControlError.BadInflight);
    [Fact] public void Case07_add_mem_reg_gpa_overflow_is_refused() => AssertNackedThenClosed("add_mem_reg gpa overflow", _ => HostileRegions.AddMemRegGpaOverflow(), ControlError.BadMemoryRegion);
    [Fact] public void Case07_add_mem_reg_offset_overflow_is_refused() => AssertNackedThenClosed("add_mem_reg offset overflow", _ => HostileRegions.AddMemRegOffsetOverflow(), ControlError.BadMemoryRegion);
    [Fact] public void Case07_add_mem_reg_larger_than_its_fd_is_refused() => AssertNackedThenClosed("add_mem_reg past fd", _ => HostileRegions.AddMemRegLargerThanFd(), ControlError.BadMemoryRegion);
    [Fact] public void Case07_add_mem_reg_zero_size_is_refused() => AssertNackedThenClosed("add_mem_reg zero size", _ => HostileRegions.AddMemRegZeroSize(), ControlError.BadMemoryRegion);
    [Fact] public void Case07_rem_mem_reg_of_an_unknown_region_is_refused() => AssertNackedThenClosed("rem_mem_reg unknown", _ => HostileRegions.RemMemRegUnknown(), ControlError.RegionNotFound);

    // ---- case 8: features ----

    [Fact]
    public void Case08_set_features_with_bits_never_offered_is_refused() =>
        AssertNackedThenClosed("features never offered", fe => HostileNegotiation.FeaturesNeverOffered(fe.BackendFeatures),
            ControlError.FeaturesNotOffered);

    [Fact]
    public void Case08_set_protocol_features_with_unsupported_bits_is_refused() =>
        AssertNackedThenClosed("protocol features never offered",
            fe => HostileNegotiation.ProtocolFeaturesUnsupported(fe.BackendProtocolFeatures), ControlError.ProtocolFeaturesNotOffered);

    [Theory]
    [InlineData(FrontendRequest.GetInflightFd)]
    [InlineData(FrontendRequest.GetConfig)]
    [InlineData(FrontendRequest.SetStatus)]
    [InlineData(FrontendRequest.GetMaxMemSlots)]
    [InlineData(FrontendRequest.SetBackendReqFd)]
    [InlineData(FrontendRequest.NetSetMtu)]
    public void Case08_messages_needing_an_unnegotiated_protocol_feature_close(FrontendRequest request) =>
        AssertClosesEveryTime($"{request} without its protocol feature", () => HostileNegotiation.WithoutProtocolFeature(request),
            ControlError.ProtocolFeatureNotNegotiated);

    // ---- case 9: config space ----

    [Fact] public void Case09_get_config_larger_than_256_is_refused() => AssertNackedThenClosed("GET_CONFIG size 257+", _ => HostileNegotiation.ConfigSizeAboveMaximum(), ControlError.BadConfig);
    [Fact] public void Case09_get_config_past_the_end_is_refused() => AssertNackedThenClosed("GET_CONFIG past end", _ => HostileNegotiation.ConfigPastEnd(), ControlError.BadConfig);
    [Fact] public void Case09_set_config_offset_overflow_is_refused() => AssertNackedThenClosed("SET_CONFIG offset overflow", _ => HostileNegotiation.ConfigOffsetOverflow(FrontendRequest.SetConfig), ControlError.BadConfig);

    // ---- case 10: valid messages repeated many times leak nothing ----

    private void AssertAcceptedRepeatedly(string name, Func<HostileMessage> make, bool ownReply, FrontendMemory? memory = null)
    {
        using (VhostUserFrontend warm = backend.Negotiated(memory))
        {
            using HostileMessage m = ownReply ? make() : make().WithNeedReply();
            using HostileOutcome o = warm.Hostile.SendAndObserve(m, HostileBackend.Observe);
            Assert.True(o.Result == HostileResult.Replied, $"{name} warm-up: {o}");
        }
        backend.WaitIdle();
        var before = ResourceSnapshot.Take();
        using (VhostUserFrontend fe = backend.Negotiated(memory))
        {
            for (int i = 0; i < HostileBackend.Reps; i++)
            {
                using HostileMessage m = ownReply ? make() : make().WithNeedReply();
                using HostileOutcome o = fe.Hostile.SendAndObserve(m, HostileBackend.Observe);
                Assert.True(o.Result == HostileResult.Replied && (ownReply || o.ReplyU64 == 0), $"{name} #{i}: {o}");
            }
        }
        backend.WaitIdle();
        before.AssertFlat(name);
    }

    [Fact]
    public void Case10_set_vring_num_repeated_leaks_nothing() =>
        AssertAcceptedRepeatedly("SET_VRING_NUM x N", () => HostileVrings.Num(256), ownReply: false);

    [Fact]
    public void Case10_set_mem_table_repeated_unmaps_every_old_table() =>
        AssertAcceptedRepeatedly("SET_MEM_TABLE x N",
            () => HostileMemoryTables.Table("valid table", [HostileMemoryTables.Region(0)]), ownReply: false);

    [Fact]
    public void Case10_get_inflight_fd_repeated_leaks_nothing() =>
        AssertAcceptedRepeatedly("GET_INFLIGHT_FD x N", () => HostileRegions.GetInflight(2, 256), ownReply: true);

    [Fact]
    public void Case10_set_log_base_repeated_leaks_nothing()
    {
        using FrontendMemory mem = FrontendMemory.Create(4 << 20);
        AssertAcceptedRepeatedly("SET_LOG_BASE x N",
            // FrontendMemory places guest memory at 4 GiB: 256 KiB of log covers 8 GiB.
            () => HostileRegions.LogBase("valid log", 256 << 10, 0), ownReply: true, memory: mem);
    }
}
