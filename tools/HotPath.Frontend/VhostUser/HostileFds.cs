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
