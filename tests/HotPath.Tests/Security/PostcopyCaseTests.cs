using HotPath.Engine.Interop;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Protocol.Wire;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Security;

/// <summary>The postcopy backend under test: HotPath with <see cref="VhostDriverFlags.PostcopySupport"/>.</summary>
public sealed class PostcopyBackend : IDisposable
{
    public HostileBackend Backend { get; } = new(VhostDriverFlags.PostcopySupport);

    public static readonly NetDeviceOptions Options = new()
    {
        WantedProtocolFeatures = NetDeviceOptions.FrontendProtocolFeatures | ProtocolFeatures.Bit(ProtocolFeatures.Pagefault),
    };

    public void Dispose() => Backend.Dispose();
}

/// <summary>
/// Hostile postcopy frontends (issue 15): POSTCOPY messages out of order, repeated, without the protocol feature, or
/// with memory the kernel cannot track. Each gets a clear, counted refusal (a non-zero ack with NEED_REPLY, the end of
/// the connection without), nothing leaks over many repetitions, and the backend goes on serving.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class PostcopyCaseTests(PostcopyBackend fixture, ITestOutputHelper output) : IClassFixture<PostcopyBackend>
{
    private HostileBackend Backend => fixture.Backend;

    private static HostileMessage Postcopy(FrontendRequest r) => HostileMessage.Honest(r.ToString(), 0, r, []);

    /// <summary>Sends <paramref name="request"/> with NEED_REPLY <see cref="HostileBackend.ReconnectReps"/> times on
    /// the connection: every one is nacked and counted, the connection lives, nothing leaks.</summary>
    private void AssertNacked(VhostUserFrontend fe, FrontendRequest request, string name)
    {
        var before = ResourceSnapshot.Take();
        long counted = ControlCounters.Refused(ControlError.PostcopyOutOfOrder);
        int reps = HostileBackend.ReconnectReps;
        for (int i = 0; i < reps; i++)
        {
            using HostileMessage m = Postcopy(request).WithNeedReply();
            using HostileOutcome o = fe.Hostile.SendAndObserve(m, HostileBackend.Observe);
            Assert.True(o.ReplyU64 is > 0 && o.Reply!.FdCount == 0, $"{name} #{i}: expected a non-zero ack and no fd, got {o}");
        }
        Assert.True(fe.Hostile.IsAlive(HostileBackend.Observe, out string detail), $"{name}: connection died: {detail}");
        Assert.Equal(reps, ControlCounters.Refused(ControlError.PostcopyOutOfOrder) - counted);
        before.AssertFlat(name);
    }

    [Fact]
    public void Postcopy_messages_out_of_order_or_repeated_are_nacked_counted_and_leak_nothing()
    {
        using (VhostUserFrontend fe = Backend.Negotiated(options: PostcopyBackend.Options))
        {
            AssertNacked(fe, FrontendRequest.PostcopyListen, "POSTCOPY_LISTEN before ADVISE");
            AssertNacked(fe, FrontendRequest.PostcopyEnd, "POSTCOPY_END before ADVISE");
            LibC.close(fe.PostcopyAdvise());
            AssertNacked(fe, FrontendRequest.PostcopyAdvise, "POSTCOPY_ADVISE again");
            AssertNacked(fe, FrontendRequest.PostcopyEnd, "POSTCOPY_END before LISTEN");
            fe.PostcopyListen();
            AssertNacked(fe, FrontendRequest.PostcopyListen, "POSTCOPY_LISTEN again");
            fe.PostcopyEnd();
            AssertNacked(fe, FrontendRequest.PostcopyEnd, "POSTCOPY_END again");
        }

        // LISTEN once a memory table is mapped: its pages may have been touched before they arrived.
        using (FrontendMemory mem = FrontendMemory.Create(4 << 20))
        using (VhostUserFrontend fe = Backend.Negotiated(mem, options: PostcopyBackend.Options))
        {
            LibC.close(fe.PostcopyAdvise());
            AssertNacked(fe, FrontendRequest.PostcopyListen, "POSTCOPY_LISTEN after SET_MEM_TABLE");
        }
        Backend.WaitIdle();
    }

    [Fact]
    public void Postcopy_messages_without_the_pagefault_feature_close_the_connection()
    {
        using var plain = new HostileBackend();   // no PostcopySupport: PAGEFAULT is never offered
        foreach (FrontendRequest r in new[] { FrontendRequest.PostcopyAdvise, FrontendRequest.PostcopyListen, FrontendRequest.PostcopyEnd })
        {
            long counted = ControlCounters.Refused(ControlError.ProtocolFeatureNotNegotiated);
            using VhostUserFrontend fe = plain.Negotiated(options: PostcopyBackend.Options);
            Assert.False(fe.HasProtocolFeature(ProtocolFeatures.Pagefault));
            using HostileMessage m = Postcopy(r);
            using HostileOutcome o = fe.Hostile.SendAndObserve(m, HostileBackend.Observe);
            Assert.True(o.Result == HostileResult.Closed, $"{r}: {o}");
            plain.WaitIdle();
            Assert.Equal(1, ControlCounters.Refused(ControlError.ProtocolFeatureNotNegotiated) - counted);
        }
    }

    [Fact]
    public unsafe void A_postcopy_memory_table_on_a_file_the_kernel_cannot_track_is_refused_and_unmapped()
    {
        // A regular file on disk (the build directory): mappable, but userfaultfd tracks only shmem and hugetlbfs.
        string path = Path.Combine(AppContext.BaseDirectory, $"postcopy-region-{Environment.ProcessId}");
        const ulong size = 2 << 20;
        var before = ResourceSnapshot.Take();
        long counted = ControlCounters.Refused(ControlError.PostcopyRegisterFailed);
        try
        {
            for (int i = 0; i < 20; i++)
            {
                using var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite);
                file.SetLength((long)size);
                using VhostUserFrontend fe = Backend.Negotiated(options: PostcopyBackend.Options);
                LibC.close(fe.PostcopyAdvise());
                fe.PostcopyListen();
                int fd = LibC.dup((int)file.SafeFileHandle.DangerousGetHandle());
                Assert.True(fd >= 0, $"dup: {LibC.StrError(LibC.Errno)}");
                var region = new MemoryRegionPayload { GuestPhysAddr = 0, MemorySize = size, UserspaceAddr = 0x7f00_0000_0000, MmapOffset = 0 };
                using HostileMessage m = HostileMessage.Honest("postcopy table on a disk file", 0, FrontendRequest.SetMemTable,
                    FrontendPayloads.MemTable([region]), [fd]);
                using HostileOutcome o = fe.Hostile.SendAndObserve(m, HostileBackend.Observe);
                Assert.True(o.Result == HostileResult.Closed, $"#{i}: {o}");
                Backend.WaitIdle();
                Assert.DoesNotContain(File.ReadLines("/proc/self/maps"), l => l.EndsWith(path, StringComparison.Ordinal));
            }
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Equal(20, ControlCounters.Refused(ControlError.PostcopyRegisterFailed) - counted);
        before.AssertFlat("postcopy tables on a disk file");
    }

    [Fact]
    public void Postcopy_connections_that_end_at_any_step_leave_no_fd_mapping_or_registration_behind()
    {
        int cycles = HostileBackend.ReconnectReps;
        using FrontendMemory mem = FrontendMemory.Create(4 << 20);
        IReadOnlyList<IRingLayout> rings = NetVrings.Allocate(mem, 1, 256, packed: false);
        var before = ResourceSnapshot.Take();
        for (int i = 0; i < cycles; i++)
        {
            using VhostUserFrontend fe = Backend.Negotiated(options: PostcopyBackend.Options);
            int ufd = fe.PostcopyAdvise();
            LibC.close(ufd);
            if (i % 3 == 0) continue;                 // gone after ADVISE
            fe.PostcopyListen();
            if (i % 3 == 1) continue;                 // gone while listening, before any memory
            fe.StartDevice(mem, rings);               // the postcopy memory table, registered
            Assert.Single(fe.PostcopyClientBases);
            if (i % 2 == 0) fe.PostcopyEnd();         // half end it properly, half just leave
        }
        Backend.WaitIdle();
        output.WriteLine($"{cycles} postcopy connections");
        before.AssertFlat($"{cycles} postcopy connections");
    }
}
