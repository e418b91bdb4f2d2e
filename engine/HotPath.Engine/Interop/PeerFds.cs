namespace HotPath.Engine.Interop;

/// <summary>
/// The kind of the fds a frontend hands over. Kick, call and err fds come from the frontend. Only an eventfd has the semantics the rings rely on (a write of 1
/// never blocks while the counter is below its maximum); a pipe, socket, regular file or memfd could block or fail
/// the datapath thread that writes it. <see cref="CheckEventFd"/> refuses anything else at the door, and every call-fd write
/// goes through <see cref="TrySignal"/>, which never blocks. The backend channel must be a socket
/// (<see cref="CheckSocket"/>).
/// </summary>
public static unsafe class PeerFds
{
    private const string EventFdLink = "anon_inode:[eventfd]";

    /// <summary>Null when <paramref name="fd"/> is an eventfd (made O_NONBLOCK when <paramref name="nonBlocking"/>),
    /// otherwise what it is, in words.</summary>
    public static string? CheckEventFd(int fd, bool nonBlocking)
    {
        string? what = Describe(fd);
        if (what != null) return what;
        if (nonBlocking && !SetNonBlocking(fd)) return $"fcntl(O_NONBLOCK): {LibC.StrError(LibC.Errno)}";
        return null;
    }

    /// <summary>Null when <paramref name="fd"/> is a socket, otherwise what it is, in words.</summary>
    public static string? CheckSocket(int fd)
    {
        Stat st;
        if (LibC.fstat(fd, &st) != 0) return $"not an open fd ({LibC.StrError(LibC.Errno)})";
        if ((st.Mode & LibC.S_IFMT) == LibC.S_IFSOCK) return null;
        string link = LibC.ReadLink($"/proc/self/fd/{fd}") ?? "?";
        return $"not a socket but {(link == EventFdLink ? "an eventfd" : Kind(st.Mode, link))}";
    }

    /// <summary>Null for an eventfd, otherwise a description of the fd ("a pipe", "a socket", "/memfd:x", ...).</summary>
    private static string? Describe(int fd)
    {
        Stat st;
        if (LibC.fstat(fd, &st) != 0) return $"not an open fd ({LibC.StrError(LibC.Errno)})";
        string? link = LibC.ReadLink($"/proc/self/fd/{fd}");
        if (link != null) return link == EventFdLink ? null : $"not an eventfd but {Kind(st.Mode, link)}";
        // No /proc: an anonymous inode has no file type bits; every named kind of file has one.
        return (st.Mode & LibC.S_IFMT) == 0 ? null : $"not an eventfd but {Kind(st.Mode, "?")}";
    }

    private static string Kind(uint mode, string link) => (mode & LibC.S_IFMT) switch
    {
        LibC.S_IFIFO => "a pipe",
        LibC.S_IFSOCK => "a socket",
        LibC.S_IFREG when link.StartsWith("/memfd:", StringComparison.Ordinal) => "a memfd",
        LibC.S_IFREG => "a regular file",
        LibC.S_IFCHR => "a character device",
        LibC.S_IFDIR => "a directory",
        _ => link,
    };

    private static bool SetNonBlocking(int fd)
    {
        int flags = LibC.fcntl(fd, LibC.F_GETFL, 0);
        return flags >= 0 && ((flags & LibC.O_NONBLOCK) != 0 || LibC.fcntl(fd, LibC.F_SETFL, flags | LibC.O_NONBLOCK) == 0);
    }

    /// <summary>
    /// Adds 1 to the eventfd without ever blocking: false when it could not (counter saturated: the guest has a
    /// notification pending anyway; or an error). The frontend shares the file description and could clear
    /// O_NONBLOCK after <see cref="CheckEventFd"/> set it, so the flag is verified (and set again) before each write.
    /// </summary>
    public static bool TrySignal(int fd)
    {
        int flags = LibC.fcntl(fd, LibC.F_GETFL, 0);
        if (flags < 0) return false;
        if ((flags & LibC.O_NONBLOCK) == 0 && LibC.fcntl(fd, LibC.F_SETFL, flags | LibC.O_NONBLOCK) != 0) return false;
        ulong one = 1;
        return LibC.write(fd, &one, 8) == 8;
    }
}
