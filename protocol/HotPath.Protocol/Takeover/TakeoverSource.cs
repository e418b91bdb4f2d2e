using HotPath.Engine.Interop;
using HotPath.Protocol.Control;
using HotPath.Protocol.Transport;

namespace HotPath.Protocol.Takeover;

/// <summary>
/// The old process's side: the takeover socket of one driver, and the handover of its devices to the process that
/// connects there. Runs on the control thread; every wait on the new process is bounded by
/// <see cref="TakeoverChannel.TimeoutMs"/>, and the frontends' messages wait in their sockets meanwhile.
/// </summary>
internal sealed unsafe class TakeoverSource : IFdHandler
{
    private readonly VhostDriver _driver;
    private int _fd;

    private TakeoverSource(VhostDriver driver, int fd)
    {
        _driver = driver;
        _fd = fd;
    }

    /// <summary>Listens on the driver's takeover path (a stale socket file is replaced, a live one is an error).</summary>
    public static TakeoverSource Listen(VhostDriver driver)
    {
        string path = driver.TakeoverPath;
        if (!SocketCalls.TryMakeAddress(path, out SockAddrUn addr, out int len))
            throw new VhostException($"takeover socket path is longer than {SocketCalls.SunPathMax - 1} bytes: {path}");
        TakeoverInfo last = driver.LastTakeover;
        if (TakeoverChannel.Connect(path, out TakeoverChannel? probe) == 0)
        {
            probe!.Dispose();
            // The old process this one just took over from, killed mid-handover, may still be on its way out with
            // its listener open (it closes it only once READY came): that socket is stale, replace it.
            bool dying = probe.PeerPid == last.PeerPid && last.State is TakeoverState.Taken or TakeoverState.Fallback;
            if (!dying) throw new VhostException($"{path} is served by a live process (pid {probe.PeerPid}): start with the takeover flag to take its devices over", LibC.EADDRINUSE);
            ControlLog.Write(LogLevel.Info, driver.Path, $"takeover: pid {probe.PeerPid} still holds {path} while it exits: replacing it");
        }
        SocketCalls.Unlink(path);
        int fd = SocketCalls.socket(SocketCalls.AF_UNIX, TakeoverChannel.SOCK_SEQPACKET | SocketCalls.SOCK_NONBLOCK | SocketCalls.SOCK_CLOEXEC, 0);
        if (fd < 0) throw new VhostException($"socket: {LibC.StrError(LibC.Errno)}", -LibC.Errno);
        int e = SocketCalls.bind(fd, &addr, len) == 0 ? 0 : LibC.Errno;
        if (e == 0)
        {
            // Owner only, before anyone can connect (listen): whoever connects here gets every guest's memory.
            if (TakeoverChannel.chmod(path, 0x180) != 0 || SocketCalls.listen(fd, 4) != 0) e = LibC.Errno;
        }
        if (e != 0)
        {
            LibC.close(fd);
            throw new VhostException($"cannot listen on {path}: {LibC.StrError(e)}", -e);
        }
        var source = new TakeoverSource(driver, fd);
        EventLoop.Shared.Add(fd, SocketCalls.EPOLLIN, source);
        ControlLog.Write(LogLevel.Info, driver.Path, $"takeover: serving takeovers on {path}");
        return source;
    }

    /// <summary>Stops listening; the socket file is removed only when <paramref name="unlink"/> (the new process
    /// replaces a stale one when it binds its own).</summary>
    public void Close(bool unlink)
    {
        if (_fd < 0) return;
        EventLoop.Shared.Remove(_fd);
        LibC.close(_fd);
        _fd = -1;
        if (unlink) SocketCalls.Unlink(_driver.TakeoverPath);
    }

    public void OnEvents(uint events)
    {
        if (_fd < 0) return;
        int fd = SocketCalls.accept4(_fd, null, null, SocketCalls.SOCK_CLOEXEC);
        if (fd < 0) return;
        using var channel = new TakeoverChannel(fd);
        try
        {
            HandOver(channel);
        }
        catch (TakeoverException e)
        {
            ControlCounters.CountTakeoverFailed();
            ControlLog.Write(LogLevel.Warning, _driver.Path, $"takeover: {e.Message}");
        }
    }

    private void HandOver(TakeoverChannel ch)
    {
        string path = _driver.Path;
        uint uid = LibC.getuid();
        if (ch.PeerUid != uid && ch.PeerUid != 0)
        {
            ch.SendText(TakeoverKind.Refuse, $"uid {ch.PeerUid} may not take over devices of uid {uid}");
            throw new TakeoverException($"refused pid {ch.PeerPid}: uid {ch.PeerUid} is not ours ({uid}) nor root");
        }
        ch.Expect(TakeoverKind.Hello).CloseFds();
        List<VhostSession> sessions = _driver.Sessions.Where(s => !s.IsClosed).ToList();
        foreach (VhostSession s in sessions)
        {
            string? blocker = DeviceImage.Blocker(s);
            if (blocker == null) continue;
            ch.SendText(TakeoverKind.Refuse, $"vid {s.Vid}: {blocker}");
            throw new TakeoverException($"refused pid {ch.PeerPid}: vid {s.Vid}: {blocker}");
        }
        ControlLog.Write(LogLevel.Info, path, $"takeover: pid {ch.PeerPid} takes over {sessions.Count} device(s)");

        foreach (VhostSession s in sessions) s.QuiesceForTakeover();
        long quiescedAt = TakeoverClock.NowNs();
        TakeoverStall.At("old-quiesced", path);
        try
        {
            SendState(ch, sessions, quiescedAt);
            TakeoverStall.At("old-sent", path);
            ch.Expect(TakeoverKind.Ready).CloseFds();
        }
        catch (TakeoverException e)
        {
            TrySendRefuse(ch, e.Message);
            Resume(sessions, $"{e.Message}; resuming");
            return;
        }

        // From Commit on the new process may run the devices, but only after it sent Resumed: it goes live only once
        // that send succeeded (or this process is dead). So a connection that ends without Resumed (the new process
        // died, refused or broke the protocol) means it never ran a burst, and this one resumes. Only silence is
        // ambiguous: it may be about to resume, so after the deadline the devices are left to it (never two writers).
        Close(unlink: false);   // the new process binds the takeover path itself
        string? notResumed;
        try
        {
            ch.Send(TakeoverKind.Commit, ReadOnlySpan<byte>.Empty);
            TakeoverStall.At("old-committed", path);
            TakeoverPacket? resumed = ch.Receive("Resumed");
            resumed?.CloseFds();
            notResumed = resumed == null ? "closed the connection" : resumed.Kind != TakeoverKind.Resumed ? $"sent {resumed.Kind}" : null;
        }
        catch (TakeoverTimeoutException e)
        {
            ControlLog.Write(LogLevel.Warning, path, $"takeover: {e.Message}; pid {ch.PeerPid} owns the devices now");
            notResumed = null;
        }
        catch (TakeoverException e)
        {
            notResumed = e.Message;
        }
        if (notResumed != null)
        {
            Resume(sessions, $"pid {ch.PeerPid} did not resume the devices ({notResumed}); resuming");
            _driver.ServeTakeoversAgain();
            return;
        }
        _driver.CompleteHandover(sessions, ch.PeerPid);
    }

    private void SendState(TakeoverChannel ch, List<VhostSession> sessions, long quiescedAt)
    {
        int listen = _driver.ListenFd;
        var begin = new BeginPayload { Devices = (uint)sessions.Count, HasListener = listen >= 0 ? 1u : 0u, QuiescedAtNs = quiescedAt };
        ch.Send(TakeoverKind.Begin, begin, listen >= 0 ? [listen] : []);
        foreach (VhostSession s in sessions)
        {
            List<ImageRecord> image = DeviceImage.Capture(s);
            byte[] unread = s.UnreadBytes(out int[] unreadFds);
            ch.Send(TakeoverKind.Device, unread, [s.SocketFd, .. unreadFds]);
            foreach (ImageRecord r in image) ch.Send(r.Kind, r.Payload, r.Fds);
            ch.Send(TakeoverKind.DeviceEnd, ReadOnlySpan<byte>.Empty);
        }
        ch.Send(TakeoverKind.End, ReadOnlySpan<byte>.Empty);
    }

    private void Resume(List<VhostSession> sessions, string why)
    {
        ControlCounters.CountTakeoverFailed();
        ControlLog.Write(LogLevel.Warning, _driver.Path, $"takeover: {why}");
        foreach (VhostSession s in sessions) s.ResumeAfterTakeover();
    }

    private static void TrySendRefuse(TakeoverChannel ch, string why)
    {
        try
        {
            ch.SendText(TakeoverKind.Refuse, why);
        }
        catch (TakeoverException)
        {
            // The peer is gone already.
        }
    }
}

/// <summary>CLOCK_MONOTONIC in nanoseconds: one clock for every process on the host.</summary>
internal static class TakeoverClock
{
    public static long NowNs()
    {
        long t = System.Diagnostics.Stopwatch.GetTimestamp();
        long f = System.Diagnostics.Stopwatch.Frequency;
        return f == 1_000_000_000 ? t : (long)(t * (1e9 / f));
    }
}
