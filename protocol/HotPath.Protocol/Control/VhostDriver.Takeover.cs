using HotPath.Engine.Interop;
using HotPath.Protocol.Takeover;

namespace HotPath.Protocol.Control;

/// <summary>Hitless upgrade: handing this driver's devices to a new process, or taking them from an old one.</summary>
public sealed partial class VhostDriver
{
    private string? _takeoverPath;
    private TakeoverSource? _takeoverSource;
    /// <summary>Every device went to another process: nothing here may reconnect, unlink or serve any more.</summary>
    private bool _handedOver;

    /// <summary>The takeover socket: <c>&lt;path&gt;.takeover</c> unless <see cref="SetTakeoverPath"/> chose another.</summary>
    public string TakeoverPath => _takeoverPath ?? Path + ".takeover";

    /// <summary>The last takeover on either side (<see cref="TakeoverState.None"/> when none).</summary>
    public TakeoverInfo LastTakeover { get; private set; }

    /// <summary>Chooses the takeover socket's path (before <see cref="Start"/>).</summary>
    public void SetTakeoverPath(string path)
    {
        if (!Transport.SocketCalls.TryMakeAddress(path, out _, out _))
            throw new VhostException($"takeover socket path is empty or longer than {Transport.SocketCalls.SunPathMax - 1} bytes: {path}");
        lock (_lock)
        {
            if (IsStarted) throw new VhostException($"{Path} is started: set the takeover path before", LibC.EBUSY);
            _takeoverPath = path;
        }
    }

    private bool AllowsTakeover => (Flags & VhostDriverFlags.TakeoverAllow) != 0;

    /// <summary>Start with the takeover flag: true when devices (or the listening socket) came from an old process.</summary>
    private bool TryTakeOver()
    {
        if ((Flags & VhostDriverFlags.Takeover) == 0) return false;
        TakeoverOutcome outcome = TakeoverTarget.Run(this, out int listenFd, out TakeoverInfo info);
        LastTakeover = info;
        if (outcome == TakeoverOutcome.Fallback && listenFd >= 0)
        {
            // The frontends reconnect into the socket the old process listened on.
            EventLoop.Shared.Invoke(() =>
            {
                AdoptListener(listenFd);
                return 0;
            });
            return true;
        }
        return outcome == TakeoverOutcome.Taken;
    }

    private void StartServingTakeovers()
    {
        if (!AllowsTakeover || _takeoverSource != null) return;
        try
        {
            _takeoverSource = TakeoverSource.Listen(this);
        }
        catch (VhostException e) when (LastTakeover.State == TakeoverState.Taken)
        {
            // The devices are served here already: failing the start now would drop them. This process just cannot
            // be taken over in turn; say so.
            ControlLog.Write(LogLevel.Error, Path, $"takeover: took the devices over but cannot serve takeovers: {e.Message}");
        }
    }

    private void StopServingTakeovers()
    {
        _takeoverSource?.Close(unlink: !_handedOver);
        _takeoverSource = null;
    }

    /// <summary>The new process died before it resumed: this one serves its devices and takeovers again.</summary>
    internal void ServeTakeoversAgain()
    {
        _takeoverSource = null;
        try
        {
            StartServingTakeovers();
        }
        catch (VhostException e)
        {
            ControlLog.Write(LogLevel.Error, Path, $"takeover: cannot serve takeovers again: {e.Message}");
        }
    }

    /// <summary>New process: a connection the old one handed over, not live until <see cref="GoLiveAfterTakeover"/>.</summary>
    internal VhostSession AdoptForTakeover(int fd)
    {
        int vid = DeviceRegistry.Reserve();
        if (vid < 0)
        {
            LibC.close(fd);
            throw new TakeoverException($"all {DeviceRegistry.MaxDevices} device slots in use");
        }
        VhostSession session = VhostSession.ForTakeover(this, fd, vid);
        Publish(session);
        return session;
    }

    /// <summary>New process, committed: serve the listening socket and the devices from here (control thread).</summary>
    internal void GoLiveAfterTakeover(List<VhostSession> sessions, int listenFd) => EventLoop.Shared.Invoke(() =>
    {
        if (listenFd >= 0) AdoptListener(listenFd);
        foreach (VhostSession s in sessions)
        {
            ControlCounters.CountConnection();
            ControlLog.Write(LogLevel.Info, Path, $"new connection, vid {s.Vid} (taken over)");
            s.GoLive();
        }
        return 0;
    });

    /// <summary>Old process: the new one resumed the devices. Close this process's copies (the frontends see nothing),
    /// stop serving, and tell the application.</summary>
    internal void CompleteHandover(List<VhostSession> sessions, int peerPid)
    {
        _handedOver = true;
        StopListening();
        foreach (VhostSession s in sessions) s.Close($"handed over to pid {peerPid}");
        LastTakeover = new TakeoverInfo(TakeoverState.Handed, (uint)sessions.Count, 0, peerPid);
        ControlCounters.CountHandedOver();
        ControlLog.Write(LogLevel.Info, Path, $"takeover: handed over {sessions.Count} device(s) to pid {peerPid}");
        IVhostDeviceOps? ops = Ops;
        if (ops == null) return;
        try
        {
            ops.TakeoverComplete(Path);
        }
        catch (Exception e)
        {
            ControlLog.Write(LogLevel.Error, Path, $"takeover_complete callback threw {e.GetType().Name}: {e.Message}");
        }
    }
}
