using HotPath.Engine.Interop;
using HotPath.Protocol.Transport;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// Server mode: the frontend listens on a path and a backend in client mode (DPDK's <c>client=1</c>, HotPath's
/// client mode) connects to it. Each accepted connection becomes a <see cref="VhostUserFrontend"/>. Disposing the
/// listener closes it and removes the socket file.
/// </summary>
public sealed class VhostUserListener : IDisposable
{
    private int _fd;

    public string Path { get; }

    private VhostUserListener(string path, int fd)
    {
        Path = path;
        _fd = fd;
    }

    public static VhostUserListener Listen(string path) => new(path, UnixSockets.Listen(path));

    /// <summary>Waits up to <paramref name="timeout"/> for a backend to connect.</summary>
    public VhostUserFrontend Accept(TimeSpan timeout, TimeSpan? replyTimeout = null)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        int fd = UnixSockets.Accept(_fd, Path, timeout);
        return VhostUserFrontend.FromConnectedSocket(fd, Path, replyTimeout);
    }

    public void Dispose()
    {
        if (_fd < 0) return;
        LibC.close(_fd);
        _fd = -1;
        SocketCalls.Unlink(Path);
    }
}
