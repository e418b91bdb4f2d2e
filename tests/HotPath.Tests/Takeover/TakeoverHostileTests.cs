using System.Runtime.InteropServices;
using System.Text;
using HotPath.Engine.Interop;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Protocol.Takeover;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Security;

namespace HotPath.Tests.Takeover;

/// <summary>
/// Hostile peers on the takeover socket (real SEQPACKET sockets, a real device behind). A process that connects to a
/// running driver's takeover socket and sends garbage, stops halfway, refuses or hangs up before resuming gets
/// nothing: the driver resumes its device, which forwards again, and keeps serving takeovers. A process that poses as
/// the old backend and hands over lies (no connection, a pipe for a socket, a refused memory table, ring indexes out
/// of range, a packet too large, an unknown kind) makes the new driver's start fail with a clear reason and leaves
/// nothing open.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class TakeoverHostileTests
{
    private const int Packets = 32;

    public static TheoryData<string> NewSideCases => new()
    {
        "junk", "bad-magic", "bad-version", "hello-then-close", "hello-then-refuse", "ready-then-close", "ready-then-refuse",
        "ready-then-junk", "unknown-kind",
    };

    [Theory]
    [MemberData(nameof(NewSideCases))]
    public void A_hostile_new_process_gets_nothing_and_the_device_goes_on(string hostile)
    {
        using var pool = HotPath.Engine.Buffers.Mempool.Create(Buffers.PoolFixtures.Name("takeover-hostile"), 2048, 64, 2048 + 128,
            HotPath.Engine.Buffers.MempoolFlags.NoHuge);
        var app = new ForwardingApp(pool);
        string path = DpdkBackend.NewSocketPath("takeover-hostile");
        string takeoverPath = path + ".takeover";
        VhostDriver driver = TakeoverLifecycleTests.Register(path, app, takeoverPath, takeover: false);
        driver.Start();
        try
        {
            using var dev = EchoDevice.Open(path);
            Assert.Equal(Packets, dev.Echo(Packets));
            var before = ResourceSnapshot.Take();
            for (int round = 0; round < 3; round++)
            {
                int started = app.Started;
                long failed = ControlCounters.TakeoversFailed;
                Assert.Equal(0, TakeoverChannel.Connect(takeoverPath, out TakeoverChannel? ch));
                using (ch) Play(ch!, hostile);
                Assert.True(SpinWait.SpinUntil(() => ControlCounters.TakeoversFailed == failed + 1, TimeSpan.FromSeconds(10)),
                    $"{hostile}: the failed takeover was not counted");
                // Any handover it started is undone: the device runs again here (new_device) and forwards.
                Assert.True(SpinWait.SpinUntil(() => app.Running, TimeSpan.FromSeconds(10)), $"{hostile}: the device did not resume");
                Assert.Equal(Packets, dev.Echo(Packets));
                Assert.Equal(TakeoverState.None, driver.LastTakeover.State);
                Assert.True(app.Started >= started);
            }
            before.AssertFlat($"{hostile} x3");
            // And it still hands over to a real new driver.
            VhostDriver next = TakeoverLifecycleTests.Register(DpdkBackend.NewSocketPath("takeover-after"), app, takeoverPath, takeover: true);
            next.Start();
            Assert.Equal(TakeoverState.Taken, next.LastTakeover.State);
            driver.Unregister();
            driver = next;
            Assert.Equal(Packets, dev.Echo(Packets));
        }
        finally { driver.Unregister(); }
    }

    /// <summary>The hostile new process's script: what it sends after connecting.</summary>
    private static void Play(TakeoverChannel ch, string hostile)
    {
        switch (hostile)
        {
            case "junk":
                Raw(ch, Encoding.ASCII.GetBytes("GET / HTTP/1.0\r\n\r\n"));
                break;
            case "bad-magic":
                Raw(ch, Header(0xDEADBEEF, TakeoverHeader.CurrentVersion, TakeoverKind.Hello, 0));
                break;
            case "bad-version":
                Raw(ch, Header(TakeoverHeader.MagicValue, 99, TakeoverKind.Hello, 0));
                break;
            case "hello-then-close":
                ch.Send(TakeoverKind.Hello, ReadOnlySpan<byte>.Empty);
                break;
            case "hello-then-refuse":
                ch.Send(TakeoverKind.Hello, ReadOnlySpan<byte>.Empty);
                ReadState(ch, untilEnd: false);
                ch.SendText(TakeoverKind.Refuse, "changed my mind");
                break;
            case "ready-then-close":
            case "ready-then-refuse":
            case "ready-then-junk":
                ch.Send(TakeoverKind.Hello, ReadOnlySpan<byte>.Empty);
                ReadState(ch, untilEnd: true);
                ch.Send(TakeoverKind.Ready, ReadOnlySpan<byte>.Empty);
                TakeoverPacket commit = ch.Expect(TakeoverKind.Commit);
                commit.CloseFds();
                // It got Commit and does not resume: the old process must take its devices back.
                if (hostile == "ready-then-refuse") ch.SendText(TakeoverKind.Refuse, "no");
                if (hostile == "ready-then-junk") Raw(ch, new byte[40]);
                break;
            case "unknown-kind":
                Raw(ch, Header(TakeoverHeader.MagicValue, TakeoverHeader.CurrentVersion, (TakeoverKind)77, 0));
                break;
        }
    }

    /// <summary>Reads what the old process sends (closing every fd it carries), up to End or a few packets.</summary>
    private static void ReadState(TakeoverChannel ch, bool untilEnd)
    {
        for (int i = 0; i < 1000; i++)
        {
            TakeoverPacket p = ch.Receive("state") ?? throw new InvalidOperationException("closed");
            p.CloseFds();
            if (p.Kind == TakeoverKind.End || (!untilEnd && i == 3)) return;
        }
    }

    /// <summary>
    /// A device in a postcopy migration (after POSTCOPY_ADVISE) cannot move: its userfaultfd and registered regions
    /// belong to this process. The takeover is refused with the reason, the new driver's start fails (EBUSY), and the
    /// old one keeps the device and goes on answering its frontend.
    /// </summary>
    [Fact]
    public void A_device_in_a_postcopy_migration_is_not_handed_over_and_stays_served()
    {
        string path = DpdkBackend.NewSocketPath("takeover-postcopy");
        string takeoverPath = path + ".takeover";
        var old = VhostDriver.Register(path, VhostDriverFlags.PostcopySupport | VhostDriverFlags.TakeoverAllow);
        old.SetTakeoverPath(takeoverPath);
        old.Start();
        try
        {
            using var fe = VhostUserFrontend.Connect(path, TimeSpan.FromSeconds(5));
            fe.Negotiate(1, packed: false, PostcopyBackend.Options);
            LibC.close(fe.PostcopyAdvise());
            var next = VhostDriver.Register(DpdkBackend.NewSocketPath("takeover-postcopy-next"), VhostDriverFlags.Takeover);
            next.SetTakeoverPath(takeoverPath);
            try
            {
                var e = Assert.ThrowsAny<Exception>(() => next.Start());
                Assert.Contains("postcopy live migration in progress", e.Message);
                Assert.Empty(next.Sessions);
            }
            finally { next.Unregister(); }
            Assert.Single(old.Sessions);
            fe.PostcopyListen();   // the old backend still serves the migration
            fe.PostcopyEnd();
        }
        finally { old.Unregister(); }
    }

    /// <summary>A crypto device's sessions and keys do not move yet: the takeover is refused, the device stays.</summary>
    [Fact]
    public void A_crypto_device_is_not_handed_over_and_stays_served()
    {
        string path = DpdkBackend.NewSocketPath("takeover-crypto");
        string takeoverPath = path + ".takeover";
        var old = VhostDriver.Register(path, VhostDriverFlags.TakeoverAllow);
        old.SetTakeoverPath(takeoverPath);
        old.EnableCrypto(16);
        old.Start();
        try
        {
            using var fe = VhostUserFrontend.Connect(path, TimeSpan.FromSeconds(5));
            fe.SetOwner();
            Assert.True(SpinWait.SpinUntil(() => old.Sessions.Count == 1, TimeSpan.FromSeconds(5)));
            var next = VhostDriver.Register(DpdkBackend.NewSocketPath("takeover-crypto-next"), VhostDriverFlags.Takeover);
            next.SetTakeoverPath(takeoverPath);
            next.EnableCrypto(16);
            try
            {
                var e = Assert.ThrowsAny<Exception>(() => next.Start());
                Assert.Contains("a crypto device", e.Message);
            }
            finally { next.Unregister(); }
            Assert.Single(old.Sessions);
            Assert.NotEqual(0UL, fe.GetFeatures());   // the old backend still answers
        }
        finally { old.Unregister(); }
    }

    public static TheoryData<string, string> OldSideCases => new()
    {
        { "begin-too-short", "Begin packet too short" },
        { "listener-missing", "Begin without its listening socket" },
        { "listener-is-a-pipe", "no listening stream socket" },
        { "too-many-devices", "100000 devices" },
        { "device-without-connection", "without its connection" },
        { "connection-is-a-pipe", "without its connection" },
        { "memory-table-of-a-pipe", "SET_MEM_TABLE" },
        { "malformed-message", "a malformed message" },
        { "unknown-request", "cannot be replayed" },
        { "ring-index-out-of-range", "vring 9999" },
        { "config-wrong-size", "config space of 3 bytes" },
        { "packet-too-large", "truncated packet" },
        { "unexpected-kind", "expected End, got Ready" },
        { "closed-mid-device", "closed the connection inside device 0" },
    };

    [Theory]
    [MemberData(nameof(OldSideCases))]
    public void A_hostile_old_process_makes_the_takeover_fail_with_a_clear_error_and_leaves_nothing_open(string hostile, string expected)
    {
        string path = DpdkBackend.NewSocketPath("takeover-liar");
        string takeoverPath = path + ".takeover";
        using var fake = FakeOldProcess.Listen(takeoverPath);
        var before = ResourceSnapshot.Take();
        for (int round = 0; round < 3; round++)
        {
            Thread script = fake.ServeOnce(ch => Lie(ch, hostile));
            long failed = ControlCounters.TakeoversFailed;
            var driver = VhostDriver.Register(path, VhostDriverFlags.Takeover);
            driver.SetTakeoverPath(takeoverPath);
            try
            {
                var e = Assert.ThrowsAny<Exception>(() => driver.Start());
                Assert.Contains(expected, e.Message);
                Assert.Contains("takeover from pid", e.Message);
                Assert.False(driver.IsStarted);
                Assert.Empty(driver.Sessions);
                Assert.Equal(failed + 1, ControlCounters.TakeoversFailed);
            }
            finally { driver.Unregister(); }
            Assert.True(script.Join(TimeSpan.FromSeconds(10)), "the fake old process did not finish");
        }
        before.AssertFlat($"{hostile} x3");
    }

    /// <summary>The fake old process's lies, after it read Hello.</summary>
    private static void Lie(TakeoverChannel ch, string hostile)
    {
        var begin = new BeginPayload { Devices = 1 };
        int[] pipe = Pipe();
        try
        {
            switch (hostile)
            {
                case "begin-too-short":
                    ch.Send(TakeoverKind.Begin, new byte[3]);
                    return;
                case "listener-missing":
                    ch.Send(TakeoverKind.Begin, begin with { HasListener = 1 });
                    return;
                case "listener-is-a-pipe":
                    ch.Send(TakeoverKind.Begin, begin with { HasListener = 1 }, [pipe[0]]);
                    return;
                case "too-many-devices":
                    ch.Send(TakeoverKind.Begin, begin with { Devices = 100_000 });
                    return;
                case "device-without-connection":
                    ch.Send(TakeoverKind.Begin, begin);
                    ch.Send(TakeoverKind.Device, ReadOnlySpan<byte>.Empty);
                    return;
                case "connection-is-a-pipe":
                    ch.Send(TakeoverKind.Begin, begin);
                    ch.Send(TakeoverKind.Device, ReadOnlySpan<byte>.Empty, [pipe[0]]);
                    return;
            }
            // The rest hand over a real (connected) socket first.
            int* pair = stackalloc int[2];
            Assert.Equal(0, SocketCalls.socketpair(SocketCalls.AF_UNIX, SocketCalls.SOCK_STREAM | SocketCalls.SOCK_CLOEXEC, 0, pair));
            try
            {
                ch.Send(TakeoverKind.Begin, begin);
                ch.Send(TakeoverKind.Device, ReadOnlySpan<byte>.Empty, [pair[0]]);
                switch (hostile)
                {
                    case "memory-table-of-a-pipe":
                        ch.Send(TakeoverKind.Message, VhostMessage(FrontendRequest.SetFeatures, BitConverter.GetBytes(0UL)));
                        ch.Send(TakeoverKind.Message, MemTable(), [pipe[0]]);
                        break;
                    case "malformed-message":
                        byte[] m = VhostMessage(FrontendRequest.SetFeatures, BitConverter.GetBytes(0UL));
                        ch.Send(TakeoverKind.Message, m.AsSpan(0, m.Length - 3));
                        break;
                    case "unknown-request":
                        ch.Send(TakeoverKind.Message, VhostMessage((FrontendRequest)999, []));
                        break;
                    case "ring-index-out-of-range":
                        ch.Send(TakeoverKind.Rings, new RingIndexes { Index = 9999 });
                        break;
                    case "config-wrong-size":
                        ch.Send(TakeoverKind.Config, new byte[3]);
                        break;
                    case "packet-too-large":
                        ch.Send(TakeoverKind.Message, new byte[100_000]);
                        break;
                    case "unexpected-kind":
                        ch.Send(TakeoverKind.DeviceEnd, ReadOnlySpan<byte>.Empty);
                        ch.Send(TakeoverKind.Ready, ReadOnlySpan<byte>.Empty);
                        break;
                    case "closed-mid-device":
                        return;   // hangs up (alive)
                }
                // The new driver refuses (Refuse) or we hang up; either way read until it closes.
                try { while (ch.Receive("refusal") is { } p) p.CloseFds(); }
                catch (Exception) { /* its Refuse */ }
            }
            finally
            {
                LibC.close(pair[0]);
                LibC.close(pair[1]);
            }
        }
        finally
        {
            LibC.close(pipe[0]);
            LibC.close(pipe[1]);
        }
    }

    private static int[] Pipe()
    {
        int[] fds = new int[2];
        fixed (int* p = fds) Assert.Equal(0, pipe2(p, 0x80000));
        return fds;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int pipe2(int* fds, int flags);

    private static byte[] VhostMessage(FrontendRequest request, byte[] payload)
    {
        byte[] m = new byte[MessageHeader.WireSize + payload.Length];
        MemoryMarshal.Write(m, new MessageHeader { Request = (uint)request, Flags = MessageHeader.Version, Size = (uint)payload.Length });
        payload.CopyTo(m, MessageHeader.WireSize);
        return m;
    }

    private static byte[] MemTable()
    {
        byte[] p = new byte[sizeof(MemoryTableHeader) + sizeof(MemoryRegionPayload)];
        MemoryMarshal.Write(p, new MemoryTableHeader { NRegions = 1 });
        MemoryMarshal.Write(p.AsSpan(sizeof(MemoryTableHeader)), new MemoryRegionPayload
        {
            GuestPhysAddr = 0, MemorySize = 1 << 20, UserspaceAddr = 0x7f0000000000, MmapOffset = 0,
        });
        return VhostMessage(FrontendRequest.SetMemTable, p);
    }

    private static byte[] Header(uint magic, ushort version, TakeoverKind kind, uint size)
    {
        byte[] b = new byte[TakeoverHeader.Size];
        MemoryMarshal.Write(b, new TakeoverHeader { Magic = magic, Version = version, Kind = (ushort)kind, PayloadSize = size });
        return b;
    }

    /// <summary>Sends bytes as one packet, header or not.</summary>
    private static void Raw(TakeoverChannel ch, byte[] bytes)
    {
        fixed (byte* p = bytes)
        {
            IoVec iov = new() { Base = p, Len = (nuint)bytes.Length };
            MsgHdr msg = new() { Iov = &iov, IovLen = 1 };
            SocketCalls.sendmsg(ch.Fd, &msg, SocketCalls.MSG_NOSIGNAL);
        }
    }
}
