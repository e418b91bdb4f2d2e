using System.Diagnostics;
using System.Runtime.InteropServices;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Wire;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Blk;

/// <summary>
/// The vhost-user-blk example (tools/examples/hp-blk.c, HotPath's generic-device C API) serving a real file to
/// HotPath's frontend and a small virtio-blk driver: reads and writes byte-exact against a model of the disk and
/// against the file on disk, config space and config-change notifications, and requests a killed hp-blk had taken
/// resubmitted by the next one from the inflight area.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class VhostUserBlkTests(ITestOutputHelper output) : IDisposable
{
    private const string Program = "bin/hp-blk";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly string _file = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"hp-blk-{Environment.ProcessId}-{Guid.NewGuid():N}.img");

    private byte[] MakeDisk(int bytes, int seed)
    {
        var disk = new byte[bytes];
        new Random(seed).NextBytes(disk);
        File.WriteAllBytes(_file, disk);
        return disk;
    }

    private static SplitRingDriver Ring(FrontendMemory mem) =>
        new(mem, new RingDriverOptions { Size = 128, BufferSize = 4096, MaxIndirect = 0 });

    private static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public void Reads_and_writes_are_byte_exact_against_a_model_and_reach_the_file()
    {
        byte[] model = MakeDisk(1 << 20, 1);
        string sock = DpdkBackend.NewSocketPath("blk");
        using var blk = ChildBackend.Start(Artifacts.Program(Program), "--socket", sock, "--file", _file);
        Assert.True(blk.WaitForLine("serving", Wait), string.Join(" | ", blk.Output));
        using FrontendMemory mem = FrontendMemory.Create(16 << 20);
        using SplitRingDriver ring = Ring(mem);
        var drv = new VirtioBlkDriver(ring);
        using var fe = VhostUserFrontend.Connect(sock, Wait);
        ulong features = BlkFrontend.Negotiate(fe, backendChannel: false);
        Assert.Equal((ulong)(model.Length / 512), BlkFrontend.Capacity(fe));
        Assert.Equal(512u, BitConverter.ToUInt32(fe.GetConfig(20, 4)));      // blk_size
        BlkFrontend.Start(fe, features, mem, ring);
        try
        {
            Assert.True(blk.WaitForLine("started (inflight tracked)", Wait), string.Join(" | ", blk.Output));

            // The disk as it was on disk.
            BlkCompletion first = drv.Run(VirtioBlkDriver.In, 0, readBytes: 8192);
            Assert.Equal(VirtioBlkDriver.StatusOk, first.Status);
            Assert.Equal(8193u, first.UsedLen);
            Assert.Equal(model.AsSpan(0, 8192).ToArray(), first.Data);

            // A write, a read back, a flush.
            byte[] w = Bytes(3 * 512, 2);
            Assert.Equal(VirtioBlkDriver.StatusOk, drv.Run(VirtioBlkDriver.Out, 100, w).Status);
            w.CopyTo(model, 100 * 512);
            Assert.Equal(w, drv.Run(VirtioBlkDriver.In, 100, readBytes: w.Length).Data);
            Assert.Equal(VirtioBlkDriver.StatusOk, drv.Run(VirtioBlkDriver.Flush, 0).Status);

            // Random requests, many in flight at once, several descriptors each.
            var random = new Random(3);
            for (int batch = 0; batch < 20; batch++)
            {
                var reads = new Dictionary<ushort, (ulong Sector, int Len)>();
                var writes = new List<(ulong Sector, byte[] Data)>();
                for (int i = 0; i < 12; i++)
                {
                    int sectors = random.Next(1, 33);
                    ulong sector = (ulong)random.Next(0, model.Length / 512 - sectors);
                    if (random.Next(2) == 0) reads[drv.Submit(VirtioBlkDriver.In, sector, readBytes: sectors * 512)] = (sector, sectors * 512);
                    else
                    {
                        // Writes of one batch go to sectors no read of the batch touches (they may run in any order).
                        byte[] data = Bytes(sectors * 512, random.Next());
                        writes.Add((sector, data));
                        drv.Submit(VirtioBlkDriver.Out, sector, data);
                    }
                }
                // Resolve overlaps the order-independent way: wait for everything, then check reads against the disk
                // before this batch's writes or after them, whichever the device order gives (both tracked below).
                byte[] before = (byte[])model.Clone();
                foreach (var (sector, data) in writes) data.CopyTo(model, (int)sector * 512);
                foreach (BlkCompletion c in drv.WaitFor(12, Wait))
                {
                    Assert.Equal(VirtioBlkDriver.StatusOk, c.Status);
                    if (!reads.TryGetValue(c.Head, out var r)) continue;
                    bool matchesAfter = c.Data.AsSpan().SequenceEqual(model.AsSpan((int)r.Sector * 512, r.Len));
                    bool untouched = c.Data.AsSpan().SequenceEqual(before.AsSpan((int)r.Sector * 512, r.Len));
                    Assert.True(matchesAfter || untouched || OverlapsWrite(r.Sector, r.Len, writes),
                        $"read of {r.Len} bytes at sector {r.Sector} returned neither the old nor the new data");
                }
            }
            // Read the whole disk back through the device and from the file: both are the model.
            for (int off = 0; off < model.Length; off += 64 * 1024)
                Assert.Equal(model.AsSpan(off, 64 * 1024).ToArray(), drv.Run(VirtioBlkDriver.In, (ulong)off / 512, readBytes: 64 * 1024).Data);
            Assert.Equal(VirtioBlkDriver.StatusOk, drv.Run(VirtioBlkDriver.Flush, 0).Status);
            Assert.Equal(model, File.ReadAllBytes(_file));

            // GET_ID, an unsupported type, a request past the end of the disk.
            BlkCompletion id = drv.Run(VirtioBlkDriver.GetId, 0, readBytes: 20);
            Assert.Equal(VirtioBlkDriver.StatusOk, id.Status);
            Assert.Equal($"hp-blk-{blk.Pid}", System.Text.Encoding.ASCII.GetString(id.Data).TrimEnd('\0'));
            Assert.Equal(VirtioBlkDriver.StatusUnsupp, drv.Run(99, 0).Status);
            Assert.Equal(VirtioBlkDriver.StatusIoErr, drv.Run(VirtioBlkDriver.In, (ulong)model.Length / 512 - 1, readBytes: 1024).Status);
            Assert.Equal(0, drv.InFlight);
        }
        finally { output.WriteLine(string.Join("\n", blk.Output)); }
        // Stopping the ring: the device reports where it got to (hp_vhost_set_vring_base in its destroy_device).
        Assert.Equal(ring.UsedIdx, (ushort)fe.GetVringBase(0));
        Assert.True(blk.WaitForLine("stopped", Wait));
    }

    private static bool OverlapsWrite(ulong sector, int len, List<(ulong Sector, byte[] Data)> writes) =>
        writes.Any(w => sector * 512 < w.Sector * 512 + (ulong)w.Data.Length && w.Sector * 512 < sector * 512 + (ulong)len);

    [Fact]
    public void Config_changes_reach_the_frontend_with_and_without_need_reply_and_survive_a_silent_or_gone_frontend()
    {
        MakeDisk(256 * 1024, 4);
        string sock = DpdkBackend.NewSocketPath("blk-cfg");
        using var blk = ChildBackend.Start(Artifacts.Program(Program), "--socket", sock, "--file", _file);
        Assert.True(blk.WaitForLine("serving", Wait), string.Join(" | ", blk.Output));
        using FrontendMemory mem = FrontendMemory.Create(8 << 20);
        using SplitRingDriver ring = Ring(mem);
        using var fe = VhostUserFrontend.Connect(sock, Wait);
        ulong features = BlkFrontend.Negotiate(fe, backendChannel: true);
        BlkFrontend.Start(fe, features, mem, ring);
        Assert.True(blk.WaitForLine("started", Wait), string.Join(" | ", blk.Output));
        BackendChannel channel = fe.BackendChannel!;
        try
        {
            // Without need_reply (SIGUSR1): the message arrives, nothing is awaited.
            Signal(blk.Pid, 10);
            using (BackendMessage m = channel.Read(Wait) ?? throw new TimeoutException("no CONFIG_CHANGE_MSG"))
            {
                Assert.Equal(BackendRequest.ConfigChangeMsg, m.Request);
                Assert.False(m.NeedReply);
                Assert.Empty(m.Payload);
            }
            Assert.True(blk.WaitForLine("config change (need_reply 0): 0", Wait));

            // The disk grows: capacity changes, and the notification waits for our ack.
            using (var f = new FileStream(_file, FileMode.Open)) f.SetLength(512 * 1024);
            using (BackendMessage m = channel.ServeOne(Wait, _ => 0) ?? throw new TimeoutException("no CONFIG_CHANGE_MSG"))
                Assert.True(m.NeedReply);
            Assert.True(blk.WaitForLine("config change (need_reply 1): 0", Wait), string.Join(" | ", blk.Output));
            Assert.Equal(1024UL, BlkFrontend.Capacity(fe));

            // A failure answer comes back as an error.
            Signal(blk.Pid, 12);
            using (channel.ServeOne(Wait, _ => 1)) { }
            Assert.True(blk.WaitForLine("config change (need_reply 1): -5", Wait), string.Join(" | ", blk.Output));

            // A frontend that never answers: the backend gives up after its bounded wait, with a clear error.
            var clock = Stopwatch.StartNew();
            Signal(blk.Pid, 12);
            Assert.True(blk.WaitForLine("config change (need_reply 1): -110", TimeSpan.FromSeconds(30)), string.Join(" | ", blk.Output));
            output.WriteLine($"unanswered request gave up after {clock.Elapsed.TotalSeconds:0.0} s");
            using (channel.Read(Wait)) { }   // the unanswered request itself

            // A frontend that closed the channel: an error at once, no hang, no SIGPIPE.
            fe.BackendChannel!.Dispose();
            int seen = blk.Output.Count;   // the -110 line above must not answer for this one
            Signal(blk.Pid, 12);
            string? last = blk.WaitForLineAfter(seen, "config change (need_reply 1): -", Wait);
            Assert.True(last != null, string.Join(" | ", blk.Output));
            Assert.True(last!.Contains("-104") || last.Contains("-32"), last);
            Assert.False(blk.HasExited);
            Assert.Equal(1024UL, BlkFrontend.Capacity(fe));   // the device still serves its frontend
        }
        finally { output.WriteLine(string.Join("\n", blk.Output)); }
    }

    [Fact]
    public void Requests_a_killed_blk_backend_had_taken_are_resubmitted_by_the_next_one_and_completed_once()
    {
        byte[] model = MakeDisk(256 * 1024, 5);
        string sock = DpdkBackend.NewSocketPath("blk-crash");
        using var listener = VhostUserListener.Listen(sock);
        using FrontendMemory mem = FrontendMemory.Create(8 << 20);
        using SplitRingDriver ring = Ring(mem);
        var drv = new VirtioBlkDriver(ring);
        InflightArea? area = null;
        try
        {
            // Life 1: every request takes 400 ms; hp-blk is killed while it serves the first of them.
            using (var blk = ChildBackend.Start(Artifacts.Program(Program), "--socket", sock, "--file", _file, "--client", "--io-delay-ms", "400"))
            using (var fe = listener.Accept(Wait))
            {
                ulong features = BlkFrontend.Negotiate(fe, backendChannel: false);
                BlkFrontend.Start(fe, features, mem, ring);
                area = fe.Inflight;
                Assert.True(blk.WaitForLine("started (inflight tracked)", Wait), string.Join(" | ", blk.Output));
                for (int i = 0; i < 4; i++)
                {
                    byte[] data = Bytes(1024, 10 + i);
                    data.CopyTo(model, (16 + 8 * i) * 512);
                    drv.Submit(VirtioBlkDriver.Out, (ulong)(16 + 8 * i), data);
                }
                drv.Publish();
                Assert.True(SpinWait.SpinUntil(() => InflightEntries(area!) >= 1, Wait), "hp-blk never took a request");
                blk.Kill();
                output.WriteLine($"killed hp-blk with {InflightEntries(area!)} request(s) inflight, used index {ring.UsedIdx}");
            }
            Assert.Equal(4, drv.InFlight + drv.Reap().Count);
            VhostUserFrontend.RestoreBasesAfterBackendLoss(mem, new[] { ring.Areas });

            // Life 2: the same area comes back; the taken request is resubmitted, the rest follow; each completes once.
            using (var blk = ChildBackend.Start(Artifacts.Program(Program), "--socket", sock, "--file", _file, "--client"))
            using (var fe = listener.Accept(Wait))
            {
                fe.Inflight = area;
                ulong features = BlkFrontend.Negotiate(fe, backendChannel: false);
                BlkFrontend.Start(fe, features, mem, ring);
                Assert.True(blk.WaitForLine("resubmitted 1 requests", Wait), string.Join(" | ", blk.Output));
                var done = drv.WaitFor(drv.InFlight, Wait);
                Assert.All(done, c => Assert.Equal(VirtioBlkDriver.StatusOk, c.Status));
                Assert.Equal(0, drv.InFlight);
                Assert.Equal(0, InflightEntries(area!));
                Assert.Equal(model.AsSpan(0, 64 * 512).ToArray(), drv.Run(VirtioBlkDriver.In, 0, readBytes: 64 * 512).Data);
                output.WriteLine(string.Join("\n", blk.Output));
            }
            Assert.Equal(model, File.ReadAllBytes(_file));
        }
        finally { area?.Dispose(); }
    }

    /// <summary>Entries of queue 0 of the (split) inflight area marked inflight.</summary>
    private static unsafe int InflightEntries(InflightArea area)
    {
        nint map = HotPath.Engine.Interop.LibC.mmap(0, (nuint)area.MmapSize, HotPath.Engine.Interop.LibC.PROT_READ,
            HotPath.Engine.Interop.LibC.MAP_SHARED, area.Fd, (long)area.MmapOffset);
        try
        {
            int n = 0;
            var d = (HotPath.Engine.Inflight.InflightSplitDesc*)((byte*)map + HotPath.Engine.Inflight.InflightRegion.SplitHeaderSize);
            for (int i = 0; i < area.QueueSize; i++) if (Volatile.Read(ref d[i].Inflight) == 1) n++;
            return n;
        }
        finally { HotPath.Engine.Interop.LibC.munmap(map, (nuint)area.MmapSize); }
    }

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int Signal(int pid, int sig);

    public void Dispose()
    {
        try { File.Delete(_file); } catch (IOException) { }
    }
}
