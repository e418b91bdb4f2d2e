using HotPath.Engine.Interop;
using HotPath.Protocol.Control;

namespace HotPath.Protocol.Takeover;

/// <summary>How a takeover attempt ended for the new process.</summary>
internal enum TakeoverOutcome
{
    /// <summary>Nobody serves the takeover socket: start normally.</summary>
    NotThere,
    /// <summary>The devices (and the listening socket) are served here now.</summary>
    Taken,
    /// <summary>The old process died before it had sent everything: start normally (with its listening socket
    /// when that had arrived), and the frontends reconnect.</summary>
    Fallback,
}

/// <summary>
/// The new process's side: asks the process serving the takeover socket for its devices, rebuilds each one through
/// the message handlers, and goes live only once the old process committed (or died after sending everything).
/// Runs on the thread that called <see cref="VhostDriver.Start"/>: the sessions it rebuilds are nobody else's until
/// they go live on the control thread.
/// </summary>
internal static class TakeoverTarget
{
    public static TakeoverOutcome Run(VhostDriver driver, out int listenFd, out TakeoverInfo info)
    {
        listenFd = -1;
        info = default;
        string path = driver.Path;
        int rc = TakeoverChannel.Connect(driver.TakeoverPath, out TakeoverChannel? channel);
        if (rc != 0)
        {
            ControlLog.Write(LogLevel.Info, path, $"takeover: nobody serves {driver.TakeoverPath} ({LibC.StrError(-rc)}); starting normally");
            return TakeoverOutcome.NotThere;
        }
        using TakeoverChannel ch = channel!;
        var adopted = new List<VhostSession>();
        bool complete = false;
        long quiescedAt = 0;
        try
        {
            ch.Send(TakeoverKind.Hello, ReadOnlySpan<byte>.Empty);
            TakeoverPacket begin = ch.Expect(TakeoverKind.Begin);
            BeginPayload b = begin.As<BeginPayload>();
            quiescedAt = b.QuiescedAtNs;
            if (b.HasListener == 1 && begin.Fds.Length == 1)
            {
                listenFd = begin.Fds[0];
                begin.Fds[0] = -1;
            }
            begin.CloseFds();
            if (b.HasListener != (listenFd >= 0 ? 1u : 0u)) throw new TakeoverException("Begin without its listening socket");
            if (listenFd >= 0 && (driver.IsClient || !TakeoverChannel.IsStreamSocket(listenFd, listening: true)))
            {
                LibC.close(listenFd);
                listenFd = -1;
                throw new TakeoverException(driver.IsClient
                    ? "a listening socket for a client-mode driver"
                    : "the listening socket handed over is no listening stream socket");
            }
            if (b.Devices > DeviceRegistry.MaxDevices) throw new TakeoverException($"{b.Devices} devices");
            for (int i = 0; i < b.Devices; i++) ReceiveDevice(ch, driver, adopted, i);
            ch.Expect(TakeoverKind.End).CloseFds();
            complete = true;
            TakeoverStall.At("new-received", path);
            ch.Send(TakeoverKind.Ready, ReadOnlySpan<byte>.Empty);
            TakeoverStall.At("new-ready", path);
            TakeoverPacket? commit = ch.Receive("Commit");
            if (commit == null) throw new TakeoverClosedException($"pid {ch.PeerPid} closed the connection before Commit");
            commit.CloseFds();
            if (commit.Kind != TakeoverKind.Commit) throw new TakeoverException($"expected Commit, got {commit.Kind}");
            TakeoverStall.At("new-committed", path);
            // Resumed goes out before the first new_device: the old process resumes only if it never arrives.
            ch.Send(TakeoverKind.Resumed, ReadOnlySpan<byte>.Empty);
        }
        catch (TakeoverException e)
        {
            // The old process resumes its devices unless it is gone; only a dead one may leave them to this one. A
            // killed process closes its sockets a moment before it is gone: wait for that only after a hang-up.
            bool gone = ch.PeerIsGone(e is TakeoverClosedException ? 2000 : 0);
            if (!gone || !complete)
            {
                ControlCounters.CountTakeoverFailed();
                TrySendRefuse(ch, e.Message);
                foreach (VhostSession s in adopted) s.Discard("takeover did not happen");
                if (gone)
                {
                    ControlLog.Write(LogLevel.Warning, path, $"takeover: pid {ch.PeerPid} died during the handover ({e.Message}); starting normally");
                    info = new TakeoverInfo(TakeoverState.Fallback, 0, 0, ch.PeerPid);
                    return TakeoverOutcome.Fallback;
                }
                if (listenFd >= 0) LibC.close(listenFd);
                listenFd = -1;
                throw new VhostException($"takeover from pid {ch.PeerPid} failed: {e.Message}", LibC.EBUSY);
            }
            ControlLog.Write(LogLevel.Warning, path, $"takeover: pid {ch.PeerPid} died after handing over its state ({e.Message}); taking over");
        }

        driver.GoLiveAfterTakeover(adopted, listenFd);
        ControlCounters.CountTakenOver();
        listenFd = -1;
        long pause = TakeoverClock.NowNs() - quiescedAt;
        info = new TakeoverInfo(TakeoverState.Taken, (uint)adopted.Count, pause, ch.PeerPid);
        ControlLog.Write(LogLevel.Info, path,
            $"takeover: took over {adopted.Count} device(s) from pid {ch.PeerPid}, pause {pause / 1e6:0.000} ms");
        return TakeoverOutcome.Taken;
    }

    private static void ReceiveDevice(TakeoverChannel ch, VhostDriver driver, List<VhostSession> adopted, int index)
    {
        TakeoverPacket dev = ch.Expect(TakeoverKind.Device);
        if (dev.Fds.Length < 1 || !TakeoverChannel.IsStreamSocket(dev.Fds[0], listening: false))
        {
            dev.CloseFds();
            throw new TakeoverException($"device {index} came without its connection (a connected stream socket)");
        }
        VhostSession s = driver.AdoptForTakeover(dev.Fds[0]);
        dev.Fds[0] = -1;
        adopted.Add(s);
        string? why = dev.Payload.Length > 0 || dev.Fds.Length > 1 ? s.LoadUnread(dev.Payload, dev.Fds.AsSpan(1)) : null;
        Array.Fill(dev.Fds, -1);
        while (why == null)
        {
            TakeoverPacket p = ch.Receive("device state") ?? throw new TakeoverClosedException($"pid {ch.PeerPid} closed the connection inside device {index}");
            switch (p.Kind)
            {
                case TakeoverKind.Message:
                    why = s.Replay(p.Payload, p.Fds);
                    Array.Fill(p.Fds, -1);
                    break;
                case TakeoverKind.Rings:
                    p.CloseFds();
                    why = s.ApplyRingIndexes(p.As<RingIndexes>());
                    break;
                case TakeoverKind.Config:
                    p.CloseFds();
                    why = s.ApplyConfig(p.Payload);
                    break;
                case TakeoverKind.DeviceEnd:
                    p.CloseFds();
                    return;
                default:
                    p.CloseFds();
                    why = $"unexpected {p.Kind}";
                    break;
            }
        }
        throw new TakeoverException($"device {index}: {why}");
    }

    private static void TrySendRefuse(TakeoverChannel ch, string why)
    {
        try
        {
            ch.SendText(TakeoverKind.Refuse, why);
        }
        catch (TakeoverException)
        {
            // Gone already.
        }
    }
}
