namespace HotPath.Engine.Interop;

/// <summary>userfaultfd(2) and its ioctls (linux/userfaultfd.h, x86-64 numbers): postcopy live migration.</summary>
public static unsafe partial class LibC
{
    private const long SYS_userfaultfd = 323;
    private const ulong UFFD_API = 0xAA;
    private const ulong UFFDIO_API = 0xC018AA3F, UFFDIO_REGISTER = 0xC020AA00, UFFDIO_UNREGISTER = 0x8010AA01,
        UFFDIO_WAKE = 0x8010AA02, UFFDIO_COPY = 0xC028AA03;
    private const ulong UFFDIO_REGISTER_MODE_MISSING = 1;

    /// <summary>struct uffd_msg's event for a missing page (the only event a MISSING registration reports).</summary>
    public const byte UFFD_EVENT_PAGEFAULT = 0x12;

    /// <summary>sizeof(struct uffd_msg): the unit a read(2) of a userfaultfd returns.</summary>
    public const int UffdMsgSize = 32;

    /// <summary>Offset of uffd_msg.arg.pagefault.address.</summary>
    public const int UffdMsgAddressOffset = 16;

    [StructLayout(LayoutKind.Sequential)]
    private struct UffdioApi { public ulong Api, Features, Ioctls; }

    [StructLayout(LayoutKind.Sequential)]
    private struct UffdioRange { public ulong Start, Len; }

    [StructLayout(LayoutKind.Sequential)]
    private struct UffdioRegister { public UffdioRange Range; public ulong Mode, Ioctls; }

    [StructLayout(LayoutKind.Sequential)]
    private struct UffdioCopy { public ulong Dst, Src, Len, Mode; public long Copy; }

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    private static partial long syscall2(long number, long arg);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl_ptr(int fd, ulong request, void* arg);

    private static int Ioctl(int fd, ulong request, void* arg)
    {
        while (true)
        {
            if (ioctl_ptr(fd, request, arg) == 0) return 0;
            int e = Errno;
            if (e != EINTR) return -e;
        }
    }

    /// <summary>
    /// A new userfaultfd (close-on-exec, non-blocking) with the API handshake done and no optional features: the fd
    /// a backend hands its frontend for postcopy (DPDK does the same). Returns the fd or -errno (EPERM when the
    /// process may not create one: vm.unprivileged_userfaultfd=0 without CAP_SYS_PTRACE).
    /// </summary>
    public static int UserFaultFdCreate()
    {
        long fd = syscall2(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) return -Errno;
        UffdioApi api = new() { Api = UFFD_API };
        int rc = Ioctl((int)fd, UFFDIO_API, &api);
        if (rc != 0)
        {
            close((int)fd);
            return rc;
        }
        return (int)fd;
    }

    /// <summary>Registers [start, start+len) for missing-page faults. 0 or -errno (EINVAL: memory that cannot be
    /// registered, such as a regular file on disk; EBUSY: registered with another userfaultfd).</summary>
    public static int UserFaultRegisterMissing(int ufd, nint start, nuint len)
    {
        UffdioRegister r = new() { Range = new() { Start = (ulong)start, Len = len }, Mode = UFFDIO_REGISTER_MODE_MISSING };
        return Ioctl(ufd, UFFDIO_REGISTER, &r);
    }

    /// <summary>Unregisters a range; threads waiting on a fault in it are woken and fault the page in normally.</summary>
    public static int UserFaultUnregister(int ufd, nint start, nuint len)
    {
        UffdioRange r = new() { Start = (ulong)start, Len = len };
        return Ioctl(ufd, UFFDIO_UNREGISTER, &r);
    }

    /// <summary>The frontend's side (tests, HotPath's frontend): atomically places <paramref name="len"/> bytes at
    /// <paramref name="dst"/> in the registered range and wakes the waiting threads. 0 or -errno.</summary>
    public static int UserFaultCopy(int ufd, nint dst, nint src, nuint len)
    {
        UffdioCopy c = new() { Dst = (ulong)dst, Src = (ulong)src, Len = len };
        return Ioctl(ufd, UFFDIO_COPY, &c);
    }

    /// <summary>Wakes threads waiting on a fault in [start, start+len) whose page arrived another way. 0 or -errno.</summary>
    public static int UserFaultWake(int ufd, nint start, nuint len)
    {
        UffdioRange r = new() { Start = (ulong)start, Len = len };
        return Ioctl(ufd, UFFDIO_WAKE, &r);
    }
}
