namespace HotPath.Engine.Interop;

/// <summary>
/// The kind of the fds a frontend hands over. Kick, call and err fds must be eventfds: only an eventfd has the
/// semantics the rings rely on (a write of 1 never blocks while the counter is below its maximum), and a pipe, socket,
/// regular file or memfd could block or fail the datapath thread that writes it. <see cref="CheckEventFd"/> refuses
/// anything else at the door, and every call-fd write goes through <see cref="TrySignal"/>, which never blocks. The
/// backend channel must be a socket (<see cref="CheckSocket"/>).
/// </summary>
public static unsafe class PeerFds
{
    private const string EventFdLink = "anon_inode:[eventfd]";

    /// <summary>Null when <paramref name="fd"/> is an eventfd (made O_NONBLOCK when <paramref name="nonBlocking"/>),
    /// otherwise what it is, in words.</summary>
    public static string? CheckEventFd(int fd, bool nonBlocking)
    {
        if (Inspect(fd, out uint mode, out string? link) is { } error) return error;
        // Without /proc (link null) an anonymous inode is known by having no file type bits.
        bool eventFd = link != null ? link == EventFdLink : (mode & LibC.S_IFMT) == 0;
        if (!eventFd) return $"not an eventfd but {Kind(mode, link ?? "?")}";
        if (nonBlocking && !SetNonBlocking(fd)) return $"fcntl(O_NONBLOCK): {LibC.StrError(LibC.Errno)}";
        return null;
    }

    /// <summary>Null when <paramref name="fd"/> is a socket, otherwise what it is, in words.</summary>
    public static string? CheckSocket(int fd)
    {
        if (Inspect(fd, out uint mode, out string? link) is { } error) return error;
        if ((mode & LibC.S_IFMT) == LibC.S_IFSOCK) return null;
        return $"not a socket but {(link == EventFdLink ? "an eventfd" : Kind(mode, link ?? "?"))}";
    }

    /// <summary>The fd's file type bits and its /proc/self/fd link (null without /proc); or why it cannot be looked at.</summary>
    private static string? Inspect(int fd, out uint mode, out string? link)
    {
        Stat st;
        link = null;
        mode = 0;
        if (LibC.fstat(fd, &st) != 0) return $"not an open fd ({LibC.StrError(LibC.Errno)})";
        mode = st.Mode;
        link = LibC.ReadLink($"/proc/self/fd/{fd}");
        return null;
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
