using HotPath.Engine.Interop;

namespace HotPath.Engine.Memory;

/// <summary>
/// The userfaultfd of one postcopy migration (VHOST_USER_POSTCOPY_ADVISE). Guest memory mapped while the frontend
/// listens is registered with it for missing pages: a datapath thread that touches a page the source has not sent
/// yet sleeps in the kernel until the frontend, which holds a duplicate of this fd, places the page (UFFDIO_COPY on
/// its side, then UFFDIO_WAKE here). Only that thread waits; nothing is pre-faulted or locked.
/// </summary>
public sealed class UserFaultFd : IDisposable
{
    private int _fd;

    private UserFaultFd(int fd) => _fd = fd;

    public int Fd => _fd;

    /// <summary>A new userfaultfd, or -errno (EPERM: vm.unprivileged_userfaultfd is 0 and the process lacks
    /// CAP_SYS_PTRACE; ENOSYS: a kernel without userfaultfd).</summary>
    public static int TryCreate(out UserFaultFd? ufd)
    {
        ufd = null;
        int fd = LibC.UserFaultFdCreate();
        if (fd < 0) return fd;
        ufd = new UserFaultFd(fd);
        return 0;
    }

    /// <summary>Registers the whole mapping of <paramref name="region"/> (the kernel wants page-aligned ranges; the
    /// mapping is aligned to the fd's page size). 0 or -errno: EINVAL for memory the kernel cannot track (a regular
    /// file on disk: only shmem, memfd and hugetlbfs can be postcopied).</summary>
    public int Register(MappedRegion region)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        return LibC.UserFaultRegisterMissing(_fd, region.MapBase, region.MapLength);
    }

    /// <summary>Stops tracking a region's missing pages; a thread waiting on one is woken and faults it in normally
    /// (a zero page if the frontend never sent it), so no datapath thread can stay parked on a frontend that left.</summary>
    public void Unregister(MappedRegion region)
    {
        if (_fd >= 0 && region.MapBase != 0) LibC.UserFaultUnregister(_fd, region.MapBase, region.MapLength);
    }

    /// <summary>Closes this side of the fd. Ranges still registered stay so until the frontend closes its copy too:
    /// unregister them first.</summary>
    public void Dispose()
    {
        if (_fd >= 0) LibC.close(_fd);
        _fd = -1;
    }
}
