namespace HotPath.Engine.Interop;

/// <summary>Reading a kick eventfd without ever blocking, whatever flags the frontend gave it.</summary>
public static unsafe partial class LibC
{
    private const short POLLIN = 0x1;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    private static partial int poll_native(PollFd* fds, nuint count, int timeoutMs);

    /// <summary>
    /// Takes the pending count of eventfd <paramref name="fd"/> without blocking: the counter value (at least 1), 0
    /// when nothing is pending, or -errno. The frontend made the fd and it may be a blocking one (the control plane
    /// keeps its flags, issue 11), so a zero-timeout poll(2) asks first and the 8-byte read runs only when the fd is
    /// readable; a non-blocking fd that another reader emptied in between answers EAGAIN, which counts as 0. One
    /// reader per fd (the datapath's one-thread-per-queue rule) keeps a blocking fd readable between the two calls.
    /// </summary>
    public static long EventFdTryDrain(int fd)
    {
        while (true)
        {
            PollFd p = new() { Fd = fd, Events = POLLIN };
            int ready = poll_native(&p, 1, 0);
            if (ready == 0) return 0;
            if (ready < 0)
            {
                int e = Errno;
                if (e == EINTR) continue;
                return -e;
            }
            if ((p.REvents & POLLIN) == 0) return -EBADF;   // POLLNVAL or POLLERR: not an open, readable fd
            ulong value = 0;
            nint n = read(fd, &value, 8);
            if (n == 8) return (long)Math.Min(value, long.MaxValue);
            if (n < 0)
            {
                int e = Errno;
                if (e == EINTR) continue;
                return e == EAGAIN ? 0 : -e;
            }
            return -EIO;   // an eventfd reads exactly 8 bytes: a short read means it is not one
        }
    }
}
