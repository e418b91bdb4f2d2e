using HotPath.Engine.Buffers;
using HotPath.Engine.Interop;
using HotPath.Engine.Memory;
using HotPath.Frontend.Memory;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Protocol.Wire;
using HotPath.Tests.Datapath;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Protocol;
using Xunit.Abstractions;

namespace HotPath.Tests.Migration;

/// <summary>
/// Postcopy on the destination (issue 15), with a real userfaultfd: HotPath's frontend plays the destination QEMU
/// (POSTCOPY_ADVISE, POSTCOPY_LISTEN, the postcopy SET_MEM_TABLE) over a real socket, the guest's packet buffers are
/// dropped from the shared memfd so they "have not arrived", and the backend's bursts fault on them. Each fault is
/// answered with the source's page; packets come out intact, the thread that faulted is the only one that waited.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class PostcopyTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = SocketDevice.Wait;
    private const int Packets = 64;

    private static readonly NetDeviceOptions PostcopyOptions = new()
    {
        WantedProtocolFeatures = NetDeviceOptions.FrontendProtocolFeatures | ProtocolFeatures.Bit(ProtocolFeatures.Pagefault),
    };

    /// <summary>Backend with postcopy on, a guest, and a frontend that advised, listened and started the device.</summary>
    private sealed class Rig : IDisposable
    {
        public readonly VhostDriver Driver;
        public readonly GuestTraffic Guest = new(new ulong[] { 4 << 20 });
        public readonly VhostUserFrontend Frontend;
        public readonly VhostSession Session;
        public readonly PageServer Pages;
        public readonly Mempool Pool = TestPools.Create(1024);

        public Rig(IVhostDeviceOps ops, DeviceEventLog events)
        {
            Driver = VhostDriver.Register(DpdkBackend.NewSocketPath("postcopy"), VhostDriverFlags.PostcopySupport);
            Driver.RegisterCallbacks(ops);
            Driver.Start();
            Frontend = VhostUserFrontend.Connect(Driver.Path, Wait);
            Frontend.Negotiate(1, packed: false, PostcopyOptions);
            Assert.True(Frontend.HasProtocolFeature(ProtocolFeatures.Pagefault), "PAGEFAULT offered with PostcopySupport");
            int ufd = Frontend.PostcopyAdvise();
            Frontend.PostcopyListen();
            EventMark mark = events.Mark();
            Frontend.StartDevice(Guest.Memory, Guest.Rings);
            int vid = int.Parse(events.WaitFor("new_device", Wait, mark).Split(' ')[1]);
            Session = DeviceRegistry.Get(vid)!;
            Assert.True(Session.PostcopyListening);
            ulong clientBase = Frontend.PostcopyClientBases[0];
            Assert.Equal((ulong)Session.Device.Regions[0].Host, clientBase);
            Pages = new PageServer(ufd, Guest.Memory.Regions[0], clientBase);
        }

        /// <summary>The backend application for one round: dequeue every packet the guest sent, enqueue them back.</summary>
        public int ForwardAll(int expected, CancellationToken ct)
        {
            var burst = new nint[Packets];
            int moved = 0;
            while (moved < expected && !ct.IsCancellationRequested)
            {
                ushort n = Session.Device.DequeueBurst(1, Pool, burst);
                fixed (nint* p = burst)
                {
                    int done = 0;
                    while (done < n && !ct.IsCancellationRequested) done += Session.Device.EnqueueBurst(0, new ReadOnlySpan<nint>(p + done, n - done));
                    MbufOps.FreeBulk((Mbuf**)p, n);
                }
                moved += n;
                if (n == 0) Thread.Yield();
            }
            return moved;
        }

        public void Dispose()
        {
            Frontend.Dispose();
            try { Driver.Unregister(); } catch (VhostException) { }
            Pages.Dispose();
            Guest.Dispose();
            Pool.Dispose();
        }
    }

    [Fact]
    public void A_burst_that_touches_pages_not_yet_arrived_waits_for_them_alone_and_delivers_every_packet_intact()
    {
        var events = new DeviceEventLog();
        using var rig = new Rig(events, events);
        Assert.Equal(Packets, rig.Guest.Send(Packets, seq => 60 + (int)(seq * 37 % 1400)));
        int withdrawn = rig.Pages.Withdraw(rig.Guest.Rings);

        int forwarded = 0;
        bool forwardDone = false;
        string? controlWhileWaiting = null;
        Workers.Run(
            ct =>
            {
                forwarded = rig.ForwardAll(Packets, ct);
                Volatile.Write(ref forwardDone, true);
            },
            ct =>
            {
                while (!Volatile.Read(ref forwardDone) && !ct.IsCancellationRequested)
                {
                    if (rig.Pages.NextFault(50) is not ulong offset) continue;
                    if (rig.Pages.Requested.Count == 1)
                    {
                        // The first page is withheld: its burst waits, the control plane does not.
                        Assert.False(Volatile.Read(ref forwardDone), "the burst finished without the page it faulted on");
                        ulong f = rig.Frontend.GetFeatures();
                        controlWhileWaiting = $"GET_FEATURES answered 0x{f:x} while the datapath waited for offset 0x{offset:x}";
                        Assert.False(Volatile.Read(ref forwardDone), "the burst went on without its page");
                    }
                    rig.Pages.Serve(offset);
                }
            });

        int received = rig.Guest.Collect();
        List<ulong> asked = rig.Pages.Requested;
        output.WriteLine($"{withdrawn} pages withdrawn; the backend asked for {asked.Count} of them; {controlWhileWaiting}");
        Assert.Equal(Packets, forwarded);
        Assert.Equal(Packets, received);   // Collect checks every byte of every packet against its number
        Assert.NotNull(controlWhileWaiting);
        Assert.True(asked.Count > 0, "no page was requested: the regions were not registered");
        Assert.All(asked, off => Assert.True(rig.Pages.WasWithdrawn(off), $"fault on offset 0x{off:x}, which was never withdrawn"));
        Assert.Equal(asked.Count, asked.Distinct().Count());   // each page asked for once: served pages stay

        // POSTCOPY_END: the backend unregisters, so another userfaultfd may now claim the same range (the kernel
        // refuses EBUSY while ours still holds it), and traffic runs on without a page server.
        rig.Frontend.PostcopyEnd();
        Assert.False(rig.Session.PostcopyListening);
        AssertUnregistered(rig.Session.Device.Regions[0]);
        Assert.Equal(Packets, rig.Guest.Send(Packets, seq => 60 + (int)(seq % 1000)));
        Workers.Run(ct => Assert.Equal(Packets, rig.ForwardAll(Packets, ct)));
        Assert.Equal(Packets, rig.Guest.Collect());
    }

    [Fact]
    public void Regions_added_one_by_one_while_listening_are_answered_with_their_address_and_registered()
    {
        using var driver = new PostcopyDriver();
        using FrontendMemory mem = FrontendMemory.Create([2 << 20, 2 << 20]);
        using var fe = VhostUserFrontend.Connect(driver.Driver.Path, Wait);
        fe.Negotiate(1, packed: false, PostcopyOptions);
        Assert.True(fe.HasProtocolFeature(ProtocolFeatures.ConfigureMemSlots));
        int ufd = fe.PostcopyAdvise();
        try
        {
            fe.PostcopyListen();
            foreach (FrontendMemory.Region r in mem.Regions) fe.AddMemReg(r);
            fe.PostcopyMemoryDone();
            Assert.NotEqual(0UL, fe.GetFeatures());   // the ack was consumed silently: the next reply is GET_FEATURES'
            VhostSession session = DeviceRegistry.Get(int.Parse(driver.Events.WaitFor("new_connection", Wait).Split(' ')[1]))!;
            Assert.Equal(session.Device.Regions.Select(r => (ulong)r.Host).Order(), fe.PostcopyClientBases.Order());
            foreach (MappedRegion r in session.Device.Regions) AssertRegistered(r);
            fe.PostcopyEnd();
            foreach (MappedRegion r in session.Device.Regions) AssertUnregistered(r);
        }
        finally
        {
            LibC.close(ufd);
        }
    }

    private sealed class PostcopyDriver : IDisposable
    {
        public readonly VhostDriver Driver = VhostDriver.Register(DpdkBackend.NewSocketPath("pc-addreg"), VhostDriverFlags.PostcopySupport);
        public readonly DeviceEventLog Events = new();

        public PostcopyDriver()
        {
            Driver.RegisterCallbacks(Events);
            Driver.Start();
        }

        public void Dispose() => Driver.Unregister();
    }

    /// <summary>Another userfaultfd cannot claim a range the backend's still holds (EBUSY).</summary>
    private static void AssertRegistered(MappedRegion region)
    {
        int ufd = LibC.UserFaultFdCreate();
        Assert.True(ufd >= 0, $"userfaultfd: {LibC.StrError(-ufd)}");
        try
        {
            Assert.Equal(-LibC.EBUSY, LibC.UserFaultRegisterMissing(ufd, region.MapBase, region.MapLength));
        }
        finally
        {
            LibC.close(ufd);
        }
    }

    private static void AssertUnregistered(MappedRegion region)
    {
        int ufd = LibC.UserFaultFdCreate();
        Assert.True(ufd >= 0, $"userfaultfd: {LibC.StrError(-ufd)}");
        try
        {
            int rc = LibC.UserFaultRegisterMissing(ufd, region.MapBase, region.MapLength);
            Assert.True(rc == 0, $"the region is still registered with the backend's userfaultfd: {LibC.StrError(-rc)}");
            LibC.UserFaultUnregister(ufd, region.MapBase, region.MapLength);
        }
        finally
        {
            LibC.close(ufd);
        }
    }

    /// <summary>destroy_device as hp-fwd does it: returns once the device's forwarding thread has stopped.</summary>
    private sealed class JoiningOps(DeviceEventLog events, ManualResetEventSlim workerDone) : IVhostDeviceOps
    {
        public bool JoinedInTime;
        public int NewDevice(int vid) => events.NewDevice(vid);
        public void DestroyDevice(int vid)
        {
            JoinedInTime = workerDone.Wait(TimeSpan.FromSeconds(60));
            events.DestroyDevice(vid);
        }
    }

    [Fact]
    public void A_frontend_that_leaves_while_a_burst_waits_for_a_page_releases_that_thread_before_destroy_device()
    {
        var events = new DeviceEventLog();
        using var workerDone = new ManualResetEventSlim();
        var ops = new JoiningOps(events, workerDone);
        using var rig = new Rig(ops, events);
        rig.Guest.Send(Packets, _ => 256);
        rig.Pages.Withdraw(rig.Guest.Rings);

        EventMark mark = events.Mark();
        Workers.Run(
            ct =>
            {
                rig.ForwardAll(1, ct);   // parks on the first withdrawn page, which never comes
                workerDone.Set();
            },
            ct =>
            {
                ulong? first = null;
                while (first == null && !ct.IsCancellationRequested) first = rig.Pages.NextFault(50);
                Assert.False(workerDone.IsSet, "the burst did not wait for its page");
                rig.Frontend.Dispose();   // the frontend goes away without serving it
                events.WaitFor("destroy_device", TimeSpan.FromSeconds(120), mark);
            });
        Assert.True(ops.JoinedInTime, "destroy_device ran while the forwarding thread was still parked on a page fault");
    }
}
