using HotPath.Engine.Interop;
using HotPath.Engine.Memory;
using HotPath.Frontend.Memory;
using HotPath.Frontend.VhostUser;
using HotPath.Fuzz.Control;
using HotPath.Protocol.Control;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Security;

/// <summary>
/// The SIGBUS cases of issue 6: guest memory is a MAP_SHARED mapping of a file the frontend owns, so a file smaller
/// than the region, or one the frontend shrinks afterwards, makes the next access past its end kill the process.
/// HotPath seals every region's fd against shrinking (F_SEAL_SHRINK) before it checks the size and maps it. Fds that
/// cannot be sealed (hugetlbfs files: QEMU memory-backend-file, DPDK virtio-user) are mapped with a warning and a
/// count, or refused when the application requires sealed memory (<see cref="VhostDriver.RequireSealedMemory"/>).
/// DPDK 22.11 dies on both cases.
/// </summary>
[Collection(SerialCollection.Name)]
public unsafe class MemfdSigbusTests(HostileBackend backend) : IClassFixture<HostileBackend>
{
    private static readonly TimeSpan Observe = HostileBackend.Observe;

    private static RegionDescriptor Descriptor(FrontendMemory.Region r, ulong size) => new(r.GuestPhysAddr, size, r.UserAddr, 0);

    /// <summary>Sends <paramref name="m"/> with NEED_REPLY on a negotiated connection; returns the ack value (0 = accepted).</summary>
    private ulong? SendTable(HostileMessage m, out bool alive)
    {
        using VhostUserFrontend fe = backend.Negotiated();
        using HostileMessage withReply = m.WithNeedReply();
        using HostileOutcome o = fe.Hostile.SendAndObserve(withReply, Observe);
        alive = fe.Hostile.IsAlive(Observe, out _);
        return o.ReplyU64;
    }

    /// <summary>The table is nacked (NEED_REPLY), counted, the connection lives on and no memfd stays mapped.</summary>
    private void AssertTableRefused(Func<HostileMessage> make)
    {
        int maps = ProcessResources.MemfdMappings;
        long refused = ControlCounters.Refused(ControlError.BadMemoryTable);
        using HostileMessage m = make();
        ulong? ack = SendTable(m, out bool alive);
        Assert.True(ack is > 0, $"expected a nack, got {ack}");
        Assert.True(alive, "the connection should survive a nacked table");
        backend.WaitIdle();
        Assert.True(ControlCounters.Refused(ControlError.BadMemoryTable) > refused, "the refusal was not counted");
        Assert.Equal(maps, ProcessResources.MemfdMappings);
    }

    [Fact]
    public void Memfd_smaller_than_the_region_set_mem_table_claims_is_refused_and_nothing_is_mapped() =>
        AssertTableRefused(HostileMemoryTables.LargerThanFd);   // region of 4 MiB, memfd of 2 MiB

    [Fact]
    public void Memfd_smaller_than_the_region_is_refused_by_the_engine_before_mapping()
    {
        using var fe = FrontendMemory.Create(2 << 20);
        int maps = ProcessResources.MemfdMappings;
        Assert.Equal(MemoryError.FdTooSmall, MappedRegion.TryMap(fe.Regions[0].Fd, Descriptor(fe.Regions[0], 4 << 20), out MappedRegion? m));
        Assert.Null(m);
        Assert.Equal(maps, ProcessResources.MemfdMappings);
    }

    [Fact]
    public void Frontend_cannot_shrink_guest_memory_after_set_mem_table_and_traffic_keeps_flowing()
    {
        using var b = new ControlBackend();
        using LoopDevice dev = LoopDevice.Open(b.Path, start: true);
        Assert.True(ControlBackend.WaitFor(() => b.NewDevices == 1), "the device did not come up");
        VhostSession s = DeviceRegistry.Get(b.LastVid)!;
        FrontendMemory.Region r = dev.Memory.Regions[0];
        Assert.True(s.Device.Regions.All(x => x.ShrinkSealed), "every mapped region should carry F_SEAL_SHRINK");
        Assert.NotEqual(0, LibC.fcntl(r.Fd, LibC.F_GET_SEALS, 0) & LibC.F_SEAL_SHRINK);

        // The frontend tries to pull guest memory from under the backend: the kernel refuses.
        int rc = LibC.ftruncate(r.Fd, (long)(r.Size / 2));
        int errno = LibC.Errno;
        Assert.Equal(-1, rc);
        Assert.Equal(LibC.EPERM, errno);
        Assert.Equal((long)r.Size, LibC.FileSize(r.Fd));

        // Every page of the ring and buffer memory is still there: traffic runs through the device as before.
        var frames = Enumerable.Range(0, 16).Select(k => Enumerable.Repeat((byte)k, 100 + k).ToArray()).ToList();
        List<byte[]> got = dev.Loop(s.Device, frames, rounds: 64);
        Assert.Equal(frames.Count, got.Count);
        for (int k = 0; k < frames.Count; k++) Assert.Equal(frames[k], got[k]);
    }

    [Fact]
    public void Memfd_that_cannot_be_sealed_is_refused_when_sealed_memory_is_required()
    {
        backend.Driver.RequireSealedMemory = true;
        try { AssertTableRefused(HostileMemoryTables.UnsealableMemfd); }
        finally { backend.Driver.RequireSealedMemory = false; }
    }

    [Fact]
    public void Unsealable_memory_is_mapped_by_default_warned_and_counted()
    {
        // The default serves QEMU memory-backend-file and DPDK virtio-user, whose hugetlbfs memory cannot be sealed.
        Assert.False(backend.Driver.RequireSealedMemory, "mapping unsealable memory (as DPDK does) must be the default");
        long counted = ControlCounters.UnsealedRegions;
        using HostileMessage m = HostileMemoryTables.UnsealableMemfd();
        ulong? ack = SendTable(m, out bool alive);
        Assert.Equal<ulong?>(0, ack);
        Assert.True(alive);
        Assert.Equal(counted + 1, ControlCounters.UnsealedRegions);
        backend.WaitIdle();
    }

    [Fact]
    public void Sealed_memory_is_required_through_the_registration_flag_or_the_environment()
    {
        string path = DpdkBackend.NewSocketPath("sealed-flag");
        VhostDriver byFlag = VhostDriver.Register(path, VhostDriverFlags.RequireSealedMemory);
        try { Assert.True(byFlag.RequireSealedMemory); }
        finally { byFlag.Unregister(); }
        Environment.SetEnvironmentVariable("HOTPATH_REQUIRE_SEALED_MEMORY", "1");
        try
        {
            VhostDriver byEnv = VhostDriver.Register(path, VhostDriverFlags.None);
            try { Assert.True(byEnv.RequireSealedMemory); }
            finally { byEnv.Unregister(); }
        }
        finally { Environment.SetEnvironmentVariable("HOTPATH_REQUIRE_SEALED_MEMORY", null); }
        VhostDriver plain = VhostDriver.Register(path, VhostDriverFlags.None);
        try { Assert.False(plain.RequireSealedMemory); }
        finally { plain.Unregister(); }
    }

    [Fact]
    public void Engine_refuses_unsealable_memfds_unless_told_otherwise()
    {
        int fd = LibC.MemfdCreate("hotpath-unsealable", 2 << 20, LibC.MFD_CLOEXEC);
        Assert.True(fd >= 0);
        try
        {
            var d = new RegionDescriptor(0x1_0000_0000, 2 << 20, 0x7f00_0000_0000, 0);
            Assert.Equal(MemoryError.FdNotSealable, MappedRegion.TryMap(fd, d, out MappedRegion? refused));
            Assert.Null(refused);
            int dup = LibC.dup(fd);
            Assert.Equal(MemoryError.None, MappedRegion.TryMap(dup, d, out MappedRegion? accepted, requireShrinkSeal: false));
            using (accepted) Assert.False(accepted!.ShrinkSealed);
        }
        finally
        {
            LibC.close(fd);
        }
    }

    [HugepageFact]
    public void Hugetlbfs_files_cannot_be_sealed_and_are_refused()
    {
        // DPDK virtio-user's guest memory (a file on /dev/hugepages, where scripts/setup.sh mounts hugetlbfs).
        string path = $"/dev/hugepages/hotpath-seal-{Environment.ProcessId}";
        using (Microsoft.Win32.SafeHandles.SafeFileHandle h = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite))
        {
            try
            {
                int fd = (int)h.DangerousGetHandle();
                Assert.Equal(0, LibC.ftruncate(fd, 2 << 20));
                var d = new RegionDescriptor(0x1_0000_0000, 2 << 20, 0x7f00_0000_0000, 0);
                Assert.Equal(MemoryError.FdNotSealable, MappedRegion.TryMap(fd, d, out MappedRegion? m));
                Assert.Null(m);
            }
            finally
            {
                File.Delete(path);
            }
        }
    }
}
