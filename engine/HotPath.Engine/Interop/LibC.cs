namespace HotPath.Engine.Interop;

/// <summary>
/// The libc calls the engine needs: memory mapping, file descriptors and eventfds.
/// Only blittable types cross; errors come back as -1 with errno in <see cref="Errno"/>.
/// </summary>
public static unsafe partial class LibC
{
    private const string Lib = "libc";

    public const int PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2;
    public const int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20,
        MAP_NORESERVE = 0x4000, MAP_POPULATE = 0x8000, MAP_HUGETLB = 0x40000;
    public static readonly nint MAP_FAILED = -1;

    public const uint MFD_CLOEXEC = 0x1, MFD_ALLOW_SEALING = 0x2, MFD_HUGETLB = 0x4;
    public const int F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_ADD_SEALS = 1033, F_GET_SEALS = 1034;
    public const int FD_CLOEXEC = 1, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    public const int F_SEAL_SEAL = 0x1, F_SEAL_SHRINK = 0x2, F_SEAL_GROW = 0x4, F_SEAL_WRITE = 0x8;
    public const int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;

    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, EBADF = 9, EAGAIN = 11, ENOMEM = 12,
        EFAULT = 14, EBUSY = 16, EEXIST = 17, ENODEV = 19, EINVAL = 22, ENOSPC = 28, ERANGE = 34,
        ENOSYS = 38, ENOTSUP = 95, EADDRINUSE = 98, ECONNREFUSED = 111, EINPROGRESS = 115, EALREADY = 114, EPROTO = 71,
        EPIPE = 32, ENOTCONN = 107, ECONNRESET = 104, ETIMEDOUT = 110, ESRCH = 3;
    public const uint S_IFMT = 0xF000, S_IFSOCK = 0xC000, S_IFREG = 0x8000, S_IFIFO = 0x1000, S_IFCHR = 0x2000, S_IFDIR = 0x4000;

    /// <summary>errno of the last failed call on this thread.</summary>
    public static int Errno => Marshal.GetLastPInvokeError();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int munmap(nint addr, nuint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int mprotect(nint addr, nuint length, int prot);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int madvise(nint addr, nuint length, int advice);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int dup(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fstat(int fd, Stat* buf);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport(Lib, EntryPoint = "stat", SetLastError = true)]
    private static partial int stat_native(byte* path, Stat* buf);

    /// <summary>stat(2) of a path; 0 or -1 with errno.</summary>
    public static int stat(string path, Stat* buf)
    {
        int n = System.Text.Encoding.UTF8.GetByteCount(path);
        Span<byte> utf8 = n < 1024 ? stackalloc byte[n + 1] : new byte[n + 1];
        System.Text.Encoding.UTF8.GetBytes(path, utf8);
        utf8[n] = 0;
        fixed (byte* p = utf8) return stat_native(p, buf);
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int ftruncate(int fd, long length);

    [LibraryImport(Lib, EntryPoint = "readlink", SetLastError = true)]
    private static partial nint readlink_native(byte* path, byte* buf, nuint size);

    /// <summary>The target of symbolic link <paramref name="path"/>, or null (errno in <see cref="Errno"/>).</summary>
    public static string? ReadLink(string path)
    {
        int n = System.Text.Encoding.UTF8.GetByteCount(path);
        Span<byte> utf8 = stackalloc byte[n + 1];
        System.Text.Encoding.UTF8.GetBytes(path, utf8);
        utf8[n] = 0;
        byte* buf = stackalloc byte[512];
        nint len;
        fixed (byte* p = utf8) len = readlink_native(p, buf, 512);
        return len < 0 ? null : System.Text.Encoding.UTF8.GetString(buf, (int)len);
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int memfd_create(byte* name, uint flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint write(int fd, void* buf, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint read(int fd, void* buf, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);

    [LibraryImport(Lib)]
    public static partial int getpid();

    [LibraryImport(Lib)]
    public static partial uint getuid();

    /// <summary>The calling thread's kernel thread id.</summary>
    [LibraryImport(Lib)]
    public static partial int gettid();

    /// <summary>tgkill(2); with <paramref name="sig"/> 0 it only checks that thread <paramref name="tid"/> of
    /// <paramref name="tgid"/> exists (-1 with ESRCH when it does not).</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int tgkill(int tgid, int tid, int sig);

    [LibraryImport(Lib)]
    public static partial nint strerror(int errnum);

    /// <summary>Readable text for an errno value.</summary>
    public static string StrError(int errnum) => Marshal.PtrToStringUTF8(strerror(errnum)) ?? $"errno {errnum}";

    /// <summary>Size of the file behind <paramref name="fd"/>, or -errno.</summary>
    public static long FileSize(int fd)
    {
        Stat st;
        return fstat(fd, &st) == 0 ? st.Size : -Errno;
    }

    /// <summary>Write 1 to an eventfd (guest notification). Returns false when the write failed.</summary>
    public static bool EventFdSignal(int fd)
    {
        ulong one = 1;
        return write(fd, &one, 8) == 8;
    }

    /// <summary>Drain an eventfd; returns the counter value or 0 when nothing was pending.</summary>
    public static ulong EventFdDrain(int fd)
    {
        ulong value = 0;
        return read(fd, &value, 8) == 8 ? value : 0;
    }

    /// <summary>Create an anonymous memory file of <paramref name="size"/> bytes; returns the fd or -errno.</summary>
    public static int MemfdCreate(string name, long size, uint flags = MFD_CLOEXEC | MFD_ALLOW_SEALING)
    {
        Span<byte> utf8 = stackalloc byte[64];
        int n = System.Text.Encoding.UTF8.GetBytes(name.AsSpan(0, Math.Min(name.Length, 48)), utf8);
        utf8[n] = 0;
        int fd;
        fixed (byte* p = utf8) fd = memfd_create(p, flags);
        if (fd < 0) return -Errno;
        if (ftruncate(fd, size) != 0)
        {
            int e = Errno;
            close(fd);
            return -e;
        }
        return fd;
    }
}

/// <summary>struct stat on Linux x86_64 (144 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 144)]
public struct Stat
{
    [FieldOffset(0)] public ulong Dev;
    [FieldOffset(8)] public ulong Ino;
    [FieldOffset(16)] public ulong Nlink;
    [FieldOffset(24)] public uint Mode;
    [FieldOffset(28)] public uint Uid;
    [FieldOffset(32)] public uint Gid;
    [FieldOffset(40)] public ulong Rdev;
    [FieldOffset(48)] public long Size;
    [FieldOffset(56)] public long BlockSize;
    [FieldOffset(64)] public long Blocks;
}
