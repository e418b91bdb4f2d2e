using HotPath.Engine.Interop;
using HotPath.Protocol.Takeover;
using HotPath.Protocol.Transport;

namespace HotPath.Tests.Takeover;

/// <summary>A process posing as the old backend: listens on a takeover path and runs a script per connection.</summary>
internal sealed unsafe class FakeOldProcess : IDisposable
{
    private readonly string _path;
    private int _fd;

    private FakeOldProcess(string path, int fd)
    {
        _path = path;
        _fd = fd;
    }

    public static FakeOldProcess Listen(string path)
    {
        SocketCalls.Unlink(path);
        Assert.True(SocketCalls.TryMakeAddress(path, out SockAddrUn addr, out int len));
        int fd = SocketCalls.socket(SocketCalls.AF_UNIX, TakeoverChannel.SOCK_SEQPACKET | SocketCalls.SOCK_CLOEXEC, 0);
        Assert.True(fd >= 0);
        Assert.Equal(0, SocketCalls.bind(fd, &addr, len));
        Assert.Equal(0, SocketCalls.listen(fd, 4));
        return new FakeOldProcess(path, fd);
    }

    /// <summary>Accepts one connection, reads its Hello and runs <paramref name="script"/> on it.</summary>
    public Thread ServeOnce(Action<TakeoverChannel> script)
    {
        var t = new Thread(() =>
        {
            int c = SocketCalls.accept4(_fd, null, null, SocketCalls.SOCK_CLOEXEC);
            if (c < 0) return;
            using var ch = new TakeoverChannel(c);
            ch.Expect(TakeoverKind.Hello).CloseFds();
            script(ch);
        }) { IsBackground = true, Name = "fake old process" };
        t.Start();
        return t;
    }

    public void Dispose()
    {
        if (_fd >= 0) LibC.close(_fd);
        _fd = -1;
        SocketCalls.Unlink(_path);
    }
}
