using HotPath.Engine.Interop;
using HotPath.Protocol.Transport;

namespace HotPath.Frontend.VhostUser;

/// <summary>Connecting to and listening on AF_UNIX stream sockets by path, with timeouts.</summary>
public static unsafe class UnixSockets
{
    private const int ENOENT = 2, ECONNREFUSED = 111, EAGAIN = 11;

    /// <summary>
    /// Connects to the server socket at <paramref name="path"/>, retrying while it does not exist yet or refuses
    /// (a backend still starting), until <paramref name="timeout"/> passes. Returns the connected fd (CLOEXEC).
    /// </summary>
    public static int Connect(string path, TimeSpan timeout)
    {
        if (!SocketCalls.TryMakeAddress(path, out SockAddrUn addr, out int len))
            throw new ArgumentException($"socket path does not fit in sun_path ({SocketCalls.SunPathMax - 1} bytes): {path}", nameof(path));
        long deadline = PollCalls.Deadline(timeout);
        int lastErrno;
        do
        {
            int fd = SocketCalls.socket(SocketCalls.AF_UNIX, SocketCalls.SOCK_STREAM | SocketCalls.SOCK_CLOEXEC, 0);
            if (fd < 0) throw new IOException($"socket() failed: {LibC.StrError(LibC.Errno)}");
            if (SocketCalls.connect(fd, &addr, len) == 0) return fd;
            lastErrno = LibC.Errno;
            LibC.close(fd);
            if (lastErrno is not (ENOENT or ECONNREFUSED or EAGAIN))
                throw new IOException($"connect to vhost-user socket {path} failed: {LibC.StrError(lastErrno)}");
            Thread.Sleep(Math.Min(20, PollCalls.MsLeft(deadline)));
        } while (PollCalls.MsLeft(deadline) > 0);
        throw new TimeoutException(
            $"no vhost-user backend accepted on {path} within {timeout.TotalSeconds:0.###} s (last error: {LibC.StrError(lastErrno)})");
    }

    /// <summary>Binds and listens on <paramref name="path"/> (removing a stale socket file first). Returns the fd.</summary>
    public static int Listen(string path, int backlog = 4)
    {
        if (!SocketCalls.TryMakeAddress(path, out SockAddrUn addr, out int len))
            throw new ArgumentException($"socket path does not fit in sun_path ({SocketCalls.SunPathMax - 1} bytes): {path}", nameof(path));
        SocketCalls.Unlink(path);
        int fd = SocketCalls.socket(SocketCalls.AF_UNIX, SocketCalls.SOCK_STREAM | SocketCalls.SOCK_CLOEXEC, 0);
        if (fd < 0) throw new IOException($"socket() failed: {LibC.StrError(LibC.Errno)}");
        if (SocketCalls.bind(fd, &addr, len) != 0 || SocketCalls.listen(fd, backlog) != 0)
        {
            int e = LibC.Errno;
            LibC.close(fd);
            throw new IOException($"listening on {path} failed: {LibC.StrError(e)}");
        }
        return fd;
    }

    /// <summary>Accepts one connection within <paramref name="timeout"/>; returns the connected fd (CLOEXEC).</summary>
    public static int Accept(int listenFd, string path, TimeSpan timeout)
    {
        long deadline = PollCalls.Deadline(timeout);
        while (true)
        {
            int ready = PollCalls.WaitReadable(listenFd, PollCalls.MsLeft(deadline));
            if (ready == 0)
                throw new TimeoutException($"no vhost-user backend connected to {path} within {timeout.TotalSeconds:0.###} s");
            if (ready < 0) throw new IOException($"poll on listening socket {path} failed: {LibC.StrError(-ready)}");
            int fd = SocketCalls.accept4(listenFd, null, null, SocketCalls.SOCK_CLOEXEC);
            if (fd >= 0) return fd;
            int e = LibC.Errno;
            if (e is not (EAGAIN or LibC.EINTR))
                throw new IOException($"accept on {path} failed: {LibC.StrError(e)}");
        }
    }

    /// <summary>A connected pair of stream sockets (CLOEXEC): the backend-request channel, and tests.</summary>
    public static (int Ours, int Theirs) Pair()
    {
        int* sv = stackalloc int[2];
        if (SocketCalls.socketpair(SocketCalls.AF_UNIX, SocketCalls.SOCK_STREAM | SocketCalls.SOCK_CLOEXEC, 0, sv) != 0)
            throw new IOException($"socketpair failed: {LibC.StrError(LibC.Errno)}");
        return (sv[0], sv[1]);
    }
}
