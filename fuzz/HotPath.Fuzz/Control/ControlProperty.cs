using FsCheck;
using HotPath.Frontend.VhostUser;
using HotPath.Fuzz.Core;
using HotPath.Protocol.Control;
using HotPath.Protocol.Wire;

namespace HotPath.Fuzz.Control;

/// <summary>
/// Message sequences against a real <see cref="VhostDriver"/> over a real Unix socket, with bursts through the device
/// interleaved (run from the test thread while the backend's control thread handles the message before them). After
/// every message a GET_FEATURES round trip says whether the connection lives; it must live exactly when the model
/// says so, a NEED_REPLY must be acked or nacked as the model says, and the features and every vring's num and
/// enable must equal the model's. While the model says the started device was never changed, every burst's packets
/// come back intact. At the end: no exception escaped, no mbuf is in use, the process has exactly the fds and memfd
/// mappings it had before the case, and a second, well-behaved frontend on the same backend gets traffic through.
/// </summary>
public sealed class ControlProperty : FuzzProperty<ControlCase>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    public override string Name => "control";

    public override Arbitrary<ControlCase> Cases => ControlGen.Cases;

    protected override Verdict Run(ControlCase c)
    {
        WarmUp();
        return RunCase(c, checkFds: true);
    }

    private Verdict RunCase(ControlCase c, bool checkFds)
    {
        Expect.Equal(0u, FuzzPools.Shared.InUse, "mbufs in use before the case");
        using var backend = new ControlBackend();
        Dictionary<string, string> fds = ProcessFds.Snapshot();
        int maps = ProcessFds.MemfdMappings;
        using (LoopDevice dev = LoopDevice.Open(backend.Path, c.Start))
        {
            if (c.Start) Expect.True(ControlBackend.WaitFor(() => backend.NewDevices == 1), "the honest start did not bring the device up");
            VhostSession s = DeviceRegistry.Get(backend.LastVid) ?? throw new ExpectationFailed("no session for the connection");
            var model = new ControlModel();
            model.Resync(s);
            bool acks = dev.Frontend.HasProtocolFeature(ProtocolFeatures.ReplyAck);
            int i = 0;
            for (; i < c.Ops.Length && model.Alive; i++) Step(c, c.Ops[i], i, dev, s, model, acks);
            Coverage.Hit(model.Alive ? "control.sequence-survived" : "control.sequence-closed");
            Coverage.Hit("control.ops-run", i);
        }
        Expect.True(ControlBackend.WaitFor(() => !backend.Driver.HasConnections), "the backend kept a connection the frontend closed");
        Expect.Equal(0u, FuzzPools.Shared.InUse, "mbufs in use after the case");
        string? leak = checkFds ? SettledDifference(fds) : null;
        Expect.True(leak == null, $"open fds after the case: {leak}");
        Expect.Equal(maps, ProcessFds.MemfdMappings, "memfd mappings after the case");
        SecondFrontend(backend);
        return Verdict.Ok;
    }

    /// <summary>
    /// The fd difference once it has settled: the runtime now and then holds a pipe for a moment (seen in long runs,
    /// gone by the next case), so a difference must persist for 200 ms to count. A backend leak never goes away.
    /// </summary>
    private static string? SettledDifference(Dictionary<string, string> before)
    {
        string? diff = ProcessFds.Difference(before, ProcessFds.Snapshot());
        for (int i = 0; diff != null && i < 10; i++)
        {
            Thread.Sleep(20);
            diff = ProcessFds.Difference(before, ProcessFds.Snapshot());
            if (diff == null) Coverage.Hit("control.transient-fds");
        }
        return diff;
    }

    private static bool s_warm;

    /// <summary>
    /// Once per process, sessions with traffic and refused, random and framing messages, unchecked: the runtime's own
    /// lazily opened fds (the console's dup'ed streams and terminal signal pipe the first log line opens, thread
    /// pool, timers) appear before the first case measures anything.
    /// </summary>
    private void WarmUp()
    {
        if (s_warm) return;
        s_warm = true;
        // The console's terminal/signal pipe opens on the first write to it, which would otherwise be the backend's
        // first logged error in the middle of a measured case (found by the first long run).
        Console.Error.WriteLine("hotpath-fuzz: control property warm-up");
        var ops = new[]
        {
            new ControlOp(ControlOpKind.Random, 41, 64, false, 2, 4, 2),
            new ControlOp(ControlOpKind.Random, 5, 64, true, 1, 4, 3),
            new ControlOp(ControlOpKind.SetFeatures, 0, 1UL << 60, false, 0, 4, 1),
        };
        RunCase(new ControlCase(true, ops), checkFds: false);
        RunCase(new ControlCase(true, [new ControlOp(ControlOpKind.Framing, 3, 1, false, 0, 0, 1)]), checkFds: false);
    }

    private static void Step(ControlCase c, ControlOp op, int i, LoopDevice dev, VhostSession s, ControlModel model, bool acks)
    {
        string where = $"op {i} ({op.Kind})";
        bool? accepts = model.Accepts(op);
        bool pristineBefore = model.Pristine && model.Running;
        HostileConnection h = dev.Frontend.Hostile;
        if (op.Kind == ControlOpKind.HalfThenClose)
        {
            using HostileMessage half = HostileMessage.Honest("half SET_FEATURES", 1, FrontendRequest.SetFeatures, new byte[8]);
            h.SendThenClose(half, (int)(op.Value % 8));
            model.Alive = false;
            Coverage.Hit("control.half-then-close");
            return;
        }
        bool replyWanted = op.NeedReply && acks && op.Kind is not ControlOpKind.Framing;
        using (HostileMessage m = Message(op, replyWanted))
        {
            int rc = h.Send(m);
            Expect.True(rc == 0 || accepts != true, $"{where}: send failed ({rc}) on a live connection");
        }
        // Traffic while the backend handles the message.
        if (op.Burst > 0 && c.Start) Burst(dev, s, op, pristineBefore && accepts == true && model.ChangesNothing(op), where);
        bool? replyAck = null;
        if (replyWanted)
        {
            using HostileOutcome o = NextReply(h, RequestOf(op));
            replyAck = o.Result == HostileResult.Replied ? o.ReplyU64 == 0 : null;
        }
        bool alive = Barrier(h, model, where);
        bool accepted = accepts ?? (replyAck ?? alive);
        if (accepts is bool a)
        {
            Expect.Equal(a || replyWanted, alive, $"{where}: connection alive (model: {(a ? "accepted" : "refused")})");
            if (replyWanted) Expect.Equal<bool?>(a, replyAck, $"{where}: REPLY_ACK");
        }
        Coverage.Hit($"control.{op.Kind}.{(accepts is null ? "uncertain" : accepted ? "accepted" : "refused")}");
        if (!alive)
        {
            model.Alive = false;
            return;
        }
        if (op.Kind == ControlOpKind.SetVringNum && accepts is null)
        {
            // Addresses already set: the backend keeps the old num when the rings do not fit the new one.
            uint num = s.Device.GetVring((int)op.Index)?.Size ?? 0;
            Expect.True(num == model.Num[op.Index] || num == (uint)op.Value, $"{where}: num {num} is neither the old {model.Num[op.Index]} nor the new {op.Value}");
            if (num != model.Num[op.Index]) model.Pristine = false;
        }
        if (accepts is null)
        {
            if (op.Kind == ControlOpKind.Random) model.Pristine = false;
            model.Resync(s);
        }
        else if (accepted) model.Apply(op);
        string? diff = model.Difference(s);
        Expect.True(diff == null, $"{where}: backend state differs from the model: {diff}");
        model.Running = s.IsRunning;
    }

    private static uint RequestOf(ControlOp op) => op.Kind switch
    {
        ControlOpKind.SetFeatures => (uint)FrontendRequest.SetFeatures,
        ControlOpKind.SetVringNum => (uint)FrontendRequest.SetVringNum,
        ControlOpKind.SetVringEnable => (uint)FrontendRequest.SetVringEnable,
        _ => op.Index,
    };

    private static HostileMessage Message(ControlOp op, bool needReply)
    {
        uint flags = MessageHeader.Version | (needReply ? MessageHeader.FlagNeedReply : 0);
        switch (op.Kind)
        {
            case ControlOpKind.SetFeatures:
                return HostileMessage.Honest("SET_FEATURES", 8, FrontendRequest.SetFeatures, BitConverter.GetBytes(op.Value), flags: flags);
            case ControlOpKind.SetVringNum:
            case ControlOpKind.SetVringEnable:
                var p = new byte[8];
                BitConverter.TryWriteBytes(p, op.Index);
                BitConverter.TryWriteBytes(p.AsSpan(4), (uint)op.Value);
                return HostileMessage.Honest(op.Kind.ToString(), 3, op.Kind == ControlOpKind.SetVringNum ? FrontendRequest.SetVringNum : FrontendRequest.SetVringEnable, p, flags: flags);
            case ControlOpKind.Framing:
                return (op.Index % 6) switch
                {
                    0 => HostileFraming.UnknownRequest(new uint[] { 44, 50, 99, 255, 1000, 0x7FFF_FFFF }[op.Value % 6]),
                    1 => HostileFraming.SizeAboveMaximum(0x1000_0000 + (uint)op.Value),
                    2 => HostileFraming.BadVersion(new uint[] { 0, 2, 3 }[op.Value % 3]),
                    3 => HostileFraming.FdsOnGetFeatures(1 + (int)(op.Value % 3)),
                    4 => HostileFraming.TooManyFds(),
                    _ => HostileFraming.ReplyFlagOnRequest(),
                };
            default:
                var payload = new byte[op.Value];
                new Random(op.Seed).NextBytes(payload);
                int[] fds = op.Seed % 2 == 0 ? HostileFds.EventFds(op.Fds) : HostileFds.Memfds(op.Fds, 4096);
                return HostileMessage.Raw($"random request {op.Index}", op.Index, flags, (uint)payload.Length, payload, fds);
        }
    }

    /// <summary>The reply to <paramref name="request"/> (replies to other requests are skipped), or how the wait ended.</summary>
    private static HostileOutcome NextReply(HostileConnection h, uint request)
    {
        for (int k = 0; ; k++)
        {
            HostileOutcome o = h.Observe(Wait);
            if (o.Result != HostileResult.Replied || k == 8 || request == 0 || o.Reply!.Header.Request == request) return o;
            o.Dispose();
        }
    }

    /// <summary>GET_FEATURES round trip: true when the connection lives (and the reply is the offered features).</summary>
    private static bool Barrier(HostileConnection h, ControlModel model, string where)
    {
        using HostileMessage probe = HostileMessage.Honest("GET_FEATURES barrier", 0, FrontendRequest.GetFeatures, Array.Empty<byte>());
        if (h.Send(probe) != 0) return false;
        using HostileOutcome o = NextReply(h, (uint)FrontendRequest.GetFeatures);
        Expect.True(o.Result is HostileResult.Replied or HostileResult.Closed, $"{where}: GET_FEATURES barrier: {o}");
        if (o.Result == HostileResult.Closed) return false;
        Expect.Equal<ulong?>(model.Offered, o.ReplyU64, $"{where}: GET_FEATURES reply");
        return true;
    }

    private static void Burst(LoopDevice dev, VhostSession s, ControlOp op, bool mustDeliver, string where)
    {
        var rnd = new Random(op.Seed);
        var frames = Enumerable.Range(0, op.Burst).Select(_ =>
        {
            var f = new byte[rnd.Next(60, 200)];
            rnd.NextBytes(f);
            return f;
        }).ToList();
        List<byte[]> got = dev.Loop(s.Device, frames, rounds: mustDeliver ? 64 : 4);
        Coverage.Hit("control.burst-packets", got.Count);
        Expect.True(!mustDeliver || dev.Desynchronized == null, $"{where}: the frontend's rings went out of step with an unchanged device: {dev.Desynchronized}");
        if (dev.Desynchronized != null) Coverage.Hit("control.frontend-rings-desynchronized");
        if (!mustDeliver) return;
        Coverage.Hit("control.burst-delivery-checked");
        Expect.Equal(frames.Count, got.Count, $"{where}: packets looped back on an unchanged running device");
        for (int k = 0; k < got.Count; k++) Expect.True(got[k].AsSpan().SequenceEqual(frames[k]), $"{where}: looped-back packet {k} differs");
    }

    /// <summary>After the hostile session: a well-behaved frontend on the same backend gets traffic through.</summary>
    private static void SecondFrontend(ControlBackend backend)
    {
        int devices = backend.NewDevices;
        using (LoopDevice dev = LoopDevice.Open(backend.Path, start: true))
        {
            Expect.True(ControlBackend.WaitFor(() => backend.NewDevices == devices + 1), "second frontend: the device did not come up");
            VhostSession s = DeviceRegistry.Get(backend.LastVid) ?? throw new ExpectationFailed("second frontend: no session");
            var frames = Enumerable.Range(0, 4).Select(k => Enumerable.Repeat((byte)(0x40 + k), 64 + k).ToArray()).ToList();
            List<byte[]> got = dev.Loop(s.Device, frames, rounds: 64);
            Expect.Equal(4, got.Count, "second frontend: packets looped back");
            for (int k = 0; k < 4; k++) Expect.True(got[k].AsSpan().SequenceEqual(frames[k]), $"second frontend: packet {k} differs");
        }
        Expect.True(ControlBackend.WaitFor(() => !backend.Driver.HasConnections), "second frontend: the backend kept the connection");
    }
}
