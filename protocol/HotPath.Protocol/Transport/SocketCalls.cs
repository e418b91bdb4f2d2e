using System.Runtime.InteropServices;
using System.Text;

namespace HotPath.Protocol.Transport;

/// <summary>libc socket and epoll calls for AF_UNIX stream sockets with SCM_RIGHTS. Blittable types only.</summary>
public static unsafe partial class SocketCalls
{
    private const string Lib = "libc";

    public const int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1, SCM_RIGHTS = 1, SO_ERROR = 4, SO_SNDBUF = 7, SO_RCVBUF = 8;
    public const int MSG_PEEK = 0x2, MSG_CTRUNC = 0x8, MSG_DONTWAIT = 0x40, MSG_NOSIGNAL = 0x4000,
        MSG_CMSG_CLOEXEC = 0x40000000;
    public const int SHUT_RDWR = 2;
    public const int EPOLL_CLOEXEC = 0x80000, EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
    public const uint EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLERR = 0x8, EPOLLHUP = 0x10, EPOLLRDHUP = 0x2000;
    public const int SunPathMax = 108;
    public const short POLLIN = 0x1, POLLOUT = 0x4;

    [LibraryImport(Lib, SetLastError = true)] public static partial int socket(int domain, int type, int protocol);
    [LibraryImport(Lib, SetLastError = true)] public static partial int socketpair(int domain, int type, int protocol, int* sv);
    [LibraryImport(Lib, SetLastError = true)] public static partial int bind(int fd, SockAddrUn* addr, int len);
    [LibraryImport(Lib, SetLastError = true)] public static partial int listen(int fd, int backlog);
    [LibraryImport(Lib, SetLastError = true)] public static partial int accept4(int fd, void* addr, void* len, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int connect(int fd, SockAddrUn* addr, int len);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint recvmsg(int fd, MsgHdr* msg, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint sendmsg(int fd, MsgHdr* msg, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int shutdown(int fd, int how);
    [LibraryImport(Lib, SetLastError = true)] public static partial int setsockopt(int fd, int level, int name, void* val, int len);
    [LibraryImport(Lib, SetLastError = true)] public static partial int unlink(byte* path);
    [LibraryImport(Lib, SetLastError = true)] public static partial int epoll_create1(int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);
    [LibraryImport(Lib, SetLastError = true)] public static partial int epoll_wait(int epfd, EpollEvent* events, int max, int timeoutMs);
    [LibraryImport(Lib, SetLastError = true)] public static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    /// <summary>Fills a sockaddr_un for <paramref name="path"/>; false when the path does not fit in sun_path.</summary>
    public static bool TryMakeAddress(string path, out SockAddrUn addr, out int length)
    {
        addr = default;
        length = 0;
        int n = Encoding.UTF8.GetByteCount(path);
        if (n == 0 || n >= SunPathMax) return false;
        addr.Family = AF_UNIX;
        fixed (byte* p = addr.Path)
            Encoding.UTF8.GetBytes(path, new Span<byte>(p, SunPathMax));
        length = 2 + n + 1;
        return true;
    }

    /// <summary>Removes a socket file; errors other than "not there" are returned as -errno.</summary>
    public static int Unlink(string path)
    {
        Span<byte> buf = stackalloc byte[SunPathMax + 1];
        int n = Encoding.UTF8.GetBytes(path.AsSpan(), buf[..SunPathMax]);
        buf[n] = 0;
        fixed (byte* p = buf)
            return unlink(p) == 0 ? 0 : -Engine.Interop.LibC.Errno;
    }
}

[StructLayout(LayoutKind.Sequential, Size = 110)]
public unsafe struct SockAddrUn
{
    public ushort Family;
    public fixed byte Path[SocketCalls.SunPathMax];
}

/// <summary>struct msghdr on Linux x86_64 (56 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct MsgHdr
{
    public void* Name;
    public uint NameLen;
    public IoVec* Iov;
    public nuint IovLen;
    public void* Control;
    public nuint ControlLen;
    public int Flags;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct IoVec
{
    public void* Base;
    public nuint Len;
}

/// <summary>struct cmsghdr header on Linux x86_64 (16 bytes, data follows).</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
public struct CmsgHdr
{
    public nuint Len;
    public int Level;
    public int Type;

    public const int HeaderSize = 16;
    public static int Space(int dataBytes) => HeaderSize + ((dataBytes + 7) & ~7);
    public static int Length(int dataBytes) => HeaderSize + dataBytes;
}

/// <summary>struct pollfd (8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct PollFd
{
    public int Fd;
    public short Events;
    public short Revents;
}

/// <summary>struct epoll_event: packed on x86_64 (12 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 12)]
public struct EpollEvent
{
    public uint Events;
    public ulong Data;
}
