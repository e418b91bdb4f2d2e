using HotPath.Engine.Interop;
using HotPath.Protocol.Transport;

namespace HotPath.Protocol.Control;

/// <summary>Listening, accepting, connecting and reconnecting (control-plane thread).</summary>
public sealed unsafe partial class VhostDriver
{
    /// <summary>Delay between client connection attempts while the frontend is away.</summary>
    public static TimeSpan ReconnectInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    private readonly List<VhostSession> _sessions = new();
    private int _listenFd = -1;
    private Listener? _listener;

    /// <summary>
    /// rte_vhost_driver_start: server mode binds and listens (a stale socket file left by a dead process is
    /// replaced; a live one is an error); client mode connects, and keeps retrying in the background unless
    /// NO_RECONNECT is set, in which case a frontend that is not there yet is an error.
    /// </summary>
    public void Start()
    {
        lock (_lock)
        {
            if (_unregistered) throw new VhostException($"{Path} was unregistered", LibC.ENOENT);
            if (IsStarted) throw new VhostException($"{Path} is already started", LibC.EALREADY);
        }
        // A takeover waits on another process: on the caller's thread, so the control thread goes on serving the
        // other drivers of this process meanwhile (and this process may even take over from itself).
        if ((Flags & (VhostDriverFlags.Takeover | VhostDriverFlags.TakeoverAllow)) != 0) Takeover.TakeoverRehearsal.Run(this);
        bool taken = TryTakeOver();
        EventLoop.Shared.Invoke(() =>
        {
            if (!taken)
            {
                if (IsClient) StartClient();
                else StartServer();
            }
            IsStarted = true;
            StartServingTakeovers();
            return 0;
        });
    }

    private void StartServer()
    {
        SocketCalls.TryMakeAddress(Path, out SockAddrUn addr, out int len);
        RemoveStaleSocket(addr, len);
        int fd = SocketCalls.socket(SocketCalls.AF_UNIX, SocketCalls.SOCK_STREAM | SocketCalls.SOCK_NONBLOCK | SocketCalls.SOCK_CLOEXEC, 0);
        if (fd < 0) throw new VhostException($"socket: {LibC.StrError(LibC.Errno)}", -LibC.Errno);
        if (SocketCalls.bind(fd, &addr, len) != 0 || SocketCalls.listen(fd, 128) != 0)
        {
            int e = LibC.Errno;
            LibC.close(fd);
            throw new VhostException($"cannot listen on {Path}: {LibC.StrError(e)}", -e);
        }
        _listenFd = fd;
        _listener = new Listener(this);
        EventLoop.Shared.Add(fd, SocketCalls.EPOLLIN, _listener);
        ControlLog.Write(LogLevel.Info, Path, "vhost-user server listening");
    }

    private void RemoveStaleSocket(SockAddrUn addr, int len)
    {
        Stat st;
        if (LibC.stat(Path, &st) != 0) return;   // nothing there
        if ((st.Mode & LibC.S_IFMT) != LibC.S_IFSOCK)
            throw new VhostException($"{Path} exists and is not a socket", LibC.EEXIST);
        int probe = SocketCalls.socket(SocketCalls.AF_UNIX, SocketCalls.SOCK_STREAM | SocketCalls.SOCK_CLOEXEC, 0);
        int rc = SocketCalls.connect(probe, &addr, len);
        int e = LibC.Errno;
        LibC.close(probe);
        if (rc == 0) throw new VhostException($"{Path} is in use by a live server", LibC.EADDRINUSE);
        if (e == LibC.ECONNREFUSED)
        {
            ControlLog.Write(LogLevel.Info, Path, "removing stale socket file");
            SocketCalls.Unlink(Path);
        }
    }

    private void StartClient()
    {
        if (TryConnect(out string? why)) return;
        if (!Reconnects) throw new VhostException($"cannot connect to {Path}: {why}", LibC.ECONNREFUSED);
        ControlLog.Write(LogLevel.Info, Path, $"frontend not there yet ({why}); retrying every {ReconnectInterval.TotalMilliseconds:0} ms");
        ScheduleReconnect();
    }

    private bool TryConnect(out string? why)
    {
        why = null;
        SocketCalls.TryMakeAddress(Path, out SockAddrUn addr, out int len);
        int fd = SocketCalls.socket(SocketCalls.AF_UNIX, SocketCalls.SOCK_STREAM | SocketCalls.SOCK_NONBLOCK | SocketCalls.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            why = LibC.StrError(LibC.Errno);
            return false;
        }
        if (SocketCalls.connect(fd, &addr, len) != 0)
        {
            why = LibC.StrError(LibC.Errno);
            LibC.close(fd);
            return false;
        }
        return AddSession(fd);
    }

    private void ScheduleReconnect()
    {
        EventLoop.Shared.Schedule(ReconnectInterval, () =>
        {
            if (_unregistered || HasConnections) return;
            if (!TryConnect(out _)) ScheduleReconnect();
        });
    }

    /// <summary>Accepted or connected socket → a new device with its own vid. False when refused.</summary>
    private bool AddSession(int fd)
    {
        int vid = DeviceRegistry.Reserve();
        if (vid < 0)
        {
            ControlLog.Write(LogLevel.Error, Path, $"refusing connection: all {DeviceRegistry.MaxDevices} device slots in use");
            LibC.close(fd);
            return false;
        }
        var session = new VhostSession(this, fd, vid);
        Publish(session);
        ControlCounters.CountConnection();
        ControlLog.Write(LogLevel.Info, Path, $"new connection, vid {vid}");
        EventLoop.Shared.Add(fd, SocketCalls.EPOLLIN | SocketCalls.EPOLLRDHUP, session);
        if (Callback(ops => ops.NewConnection(vid), "new_connection") != 0)
        {
            session.Close("new_connection callback refused the connection");
            return false;
        }
        return true;
    }

    private void Publish(VhostSession session)
    {
        DeviceRegistry.Publish(session.Vid, session);
        lock (_lock) _sessions.Add(session);
    }

    /// <summary>A connection ended: forget it, and reconnect in client mode.</summary>
    internal void OnSessionClosed(VhostSession session, bool reconnect = true)
    {
        lock (_lock) _sessions.Remove(session);
        if (!reconnect || _unregistered || _handedOver || !IsClient) return;
        if (Reconnects)
        {
            ControlLog.Write(LogLevel.Info, Path, "connection lost; reconnecting");
            ScheduleReconnect();
        }
    }

    /// <summary>Closes the listening socket; the socket file is removed unless another process now listens on it
    /// (the socket was handed over).</summary>
    private void StopListening()
    {
        if (_listenFd < 0) return;
        EventLoop.Shared.Remove(_listenFd);
        LibC.close(_listenFd);
        _listenFd = -1;
        if (!_handedOver) SocketCalls.Unlink(Path);
    }

    /// <summary>Serves a listening socket another process bound (a takeover), as <see cref="StartServer"/> would.</summary>
    private void AdoptListener(int fd)
    {
        _listenFd = fd;
        _listener = new Listener(this);
        EventLoop.Shared.Add(fd, SocketCalls.EPOLLIN, _listener);
    }

    /// <summary>The listening socket (server mode, started), or -1.</summary>
    internal int ListenFd => _listenFd;

    private void AcceptAll()
    {
        while (true)
        {
            int fd = SocketCalls.accept4(_listenFd, null, null, SocketCalls.SOCK_NONBLOCK | SocketCalls.SOCK_CLOEXEC);
            if (fd < 0)
            {
                int e = LibC.Errno;
                if (e != LibC.EAGAIN && e != LibC.EINTR)
                    ControlLog.Write(LogLevel.Warning, Path, $"accept: {LibC.StrError(e)}");
                return;
            }
            AddSession(fd);
        }
    }

    private sealed class Listener(VhostDriver driver) : IFdHandler
    {
        public void OnEvents(uint events) => driver.AcceptAll();
    }
}
