using HotPath.Engine.Interop;

namespace HotPath.Frontend.VhostUser;

/// <summary>Real fds for hostile messages: sparse memfds of a chosen size (nothing is mapped or touched) and eventfds.</summary>
public static class HostileFds
{
    /// <summary>
    /// A memfd of <paramref name="size"/> bytes (ftruncate only, so even large sizes cost no memory). Sealable
    /// (MFD_ALLOW_SEALING) as QEMU's memfd backend makes them, unless <paramref name="sealable"/> is false: a backend
    /// refuses guest memory it cannot seal against shrinking.
    /// </summary>
    public static int Memfd(ulong size, string name = "hotpath-hostile", bool sealable = true)
    {
        int fd = LibC.MemfdCreate(name, checked((long)size), LibC.MFD_CLOEXEC | (sealable ? LibC.MFD_ALLOW_SEALING : 0));
        if (fd < 0) throw new IOException($"memfd_create of {size} bytes failed: {LibC.StrError(-fd)}");
        return fd;
    }

    public static int EventFd()
    {
        int fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (fd < 0) throw new IOException($"eventfd failed: {LibC.StrError(LibC.Errno)}");
        return fd;
    }

    /// <summary>The kinds of fd that are not eventfds, for kick/call/err fds a backend must refuse.</summary>
    public enum NotEventFd { Pipe, Socket, RegularFile, Memfd }

    /// <summary>An open fd of <paramref name="kind"/> (the write end of a pipe, one end of a socketpair, an unlinked
    /// temporary file, a memfd); the other ends are closed, except a pipe's read end, which the caller gets too so
    /// that the pipe stays open (close it).</summary>
    public static unsafe int Make(NotEventFd kind, out int pipeReadEnd)
    {
        pipeReadEnd = -1;
        switch (kind)
        {
            case NotEventFd.Pipe:
                int* p = stackalloc int[2];
                if (LibC.pipe2(p, LibC.O_CLOEXEC) != 0) throw new IOException($"pipe2: {LibC.StrError(LibC.Errno)}");
                pipeReadEnd = p[0];
                return p[1];
            case NotEventFd.Socket:
                (int a, int b) = UnixSockets.Pair();
                LibC.close(b);
                return a;
            case NotEventFd.RegularFile:
                string path = Path.Combine(Path.GetTempPath(), $"hp-notify-{Environment.ProcessId}-{Guid.NewGuid():N}");
                int fd;
                using (var h = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite)) fd = LibC.dup((int)h.DangerousGetHandle());
                File.Delete(path);
                if (fd < 0) throw new IOException($"dup: {LibC.StrError(LibC.Errno)}");
                return fd;
            default:
                return Memfd(4096);
        }
    }

    /// <summary><paramref name="count"/> eventfds; all closed again if one cannot be made.</summary>
    public static int[] EventFds(int count) => Many(count, EventFd);

    /// <summary><paramref name="count"/> memfds of <paramref name="size"/> bytes each.</summary>
    public static int[] Memfds(int count, ulong size) => Many(count, () => Memfd(size));

    private static int[] Many(int count, Func<int> make)
    {
        var fds = new int[count];
        int made = 0;
        try
        {
            for (; made < count; made++) fds[made] = make();
            return fds;
        }
        catch
        {
            for (int i = 0; i < made; i++) LibC.close(fds[i]);
            throw;
        }
    }
}
