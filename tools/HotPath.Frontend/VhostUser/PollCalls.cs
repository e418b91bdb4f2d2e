using System.Runtime.InteropServices;
using HotPath.Engine.Interop;
using HotPath.Protocol.Transport;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// poll(2) and socket timeouts: what the frontend's control path needs so that no wait is ever unbounded.
/// The datapath never calls these.
/// </summary>
public static unsafe partial class PollCalls
{
    public const short POLLIN = 0x1, POLLOUT = 0x4, POLLERR = 0x8, POLLHUP = 0x10, POLLNVAL = 0x20;
    private const int SO_RCVTIMEO = 20, SO_SNDTIMEO = 21;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeVal
    {
        public long Sec;
        public long Usec;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    /// <summary>
    /// Waits until <paramref name="fd"/> is readable, hung up or in error, for at most <paramref name="timeoutMs"/>
    /// (retrying EINTR with the time left). Returns the revents (non-zero) or 0 on timeout; -errno on failure.
    /// </summary>
    public static int WaitReadable(int fd, int timeoutMs)
    {
        long deadline = Environment.TickCount64 + Math.Max(0, timeoutMs);
        while (true)
        {
            PollFd p = new() { Fd = fd, Events = POLLIN };
            int left = (int)Math.Max(0, deadline - Environment.TickCount64);
            int n = poll(&p, 1, left);
            if (n > 0) return p.REvents == 0 ? POLLIN : p.REvents;
            if (n == 0) return 0;
            int e = LibC.Errno;
            if (e != LibC.EINTR) return -e;
        }
    }

    /// <summary>
    /// Bounds every blocking recvmsg/sendmsg on <paramref name="socket"/>: a peer that stalls in the middle of a
    /// message makes the call return EAGAIN instead of blocking forever. Returns 0 or -errno.
    /// </summary>
    public static int SetSocketTimeouts(int socket, TimeSpan timeout)
    {
        long us = Math.Max(1000, (long)(timeout.TotalMilliseconds * 1000));
        TimeVal tv = new() { Sec = us / 1_000_000, Usec = us % 1_000_000 };
        if (SocketCalls.setsockopt(socket, SocketCalls.SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(TimeVal)) != 0) return -LibC.Errno;
        if (SocketCalls.setsockopt(socket, SocketCalls.SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(TimeVal)) != 0) return -LibC.Errno;
        return 0;
    }

    /// <summary>Milliseconds left until <paramref name="deadline"/> (Environment.TickCount64 based), never negative.</summary>
    public static int MsLeft(long deadline) => (int)Math.Clamp(deadline - Environment.TickCount64, 0, int.MaxValue);

    /// <summary>A deadline <paramref name="timeout"/> from now.</summary>
    public static long Deadline(TimeSpan timeout) => Environment.TickCount64 + (long)Math.Max(0, timeout.TotalMilliseconds);
}
