using HotPath.Engine.Interop;
using HotPath.Engine.Memory;
using HotPath.Protocol.Transport;

namespace HotPath.Protocol.Control.Handlers;

/// <summary>POSTCOPY_ADVISE, POSTCOPY_LISTEN, POSTCOPY_END (the memory table side is in <see cref="MemoryHandlers"/>).</summary>
internal static class PostcopyHandlers
{
    /// <summary>A userfaultfd for the frontend: the reply carries it and no payload.</summary>
    public static HandlerResult Advise(VhostSession s, MessageReader m)
    {
        if (s.PostcopyFd != null)
            return HandlerResult.Fail(ControlError.PostcopyOutOfOrder, "POSTCOPY_ADVISE again: this connection already handed over a userfaultfd");
        int rc = UserFaultFd.TryCreate(out UserFaultFd? ufd);
        if (rc != 0) return HandlerResult.Fail(ControlError.PostcopyUnavailable, $"userfaultfd: {LibC.StrError(-rc)}");
        int dup = LibC.dup(ufd!.Fd);
        if (dup < 0)
        {
            ufd.Dispose();
            return HandlerResult.Fail(ControlError.PostcopyUnavailable, $"dup: {LibC.StrError(LibC.Errno)}");
        }
        s.SetPostcopyFd(ufd);
        s.ReplyFd(dup);
        s.Log(LogLevel.Info, "postcopy: advised, userfaultfd handed to the frontend");
        return s.ReplyBytes(0);
    }

    /// <summary>
    /// From now on, regions are registered as they are mapped. A table mapped before LISTEN is refused (as DPDK):
    /// its pages may already have been touched here, and a page touched before it arrived is a zero page the
    /// migration can no longer fill.
    /// </summary>
    public static HandlerResult Listen(VhostSession s, MessageReader m)
    {
        if (s.PostcopyFd == null)
            return HandlerResult.Fail(ControlError.PostcopyOutOfOrder, "POSTCOPY_LISTEN before POSTCOPY_ADVISE");
        if (s.PostcopyListening)
            return HandlerResult.Fail(ControlError.PostcopyOutOfOrder, "POSTCOPY_LISTEN again");
        if (s.Device.Regions.Count != 0)
            return HandlerResult.Fail(ControlError.PostcopyOutOfOrder,
                $"POSTCOPY_LISTEN with {s.Device.Regions.Count} regions already mapped: their pages may have been touched before they arrived");
        s.StartPostcopyListening();
        s.Log(LogLevel.Info, "postcopy: listening, guest memory mapped from now on faults pages in from the source");
        return HandlerResult.Ok;
    }

    /// <summary>Every page has arrived: unregister, close the userfaultfd, answer 0.</summary>
    public static HandlerResult End(VhostSession s, MessageReader m)
    {
        if (!s.PostcopyListening)
            return HandlerResult.Fail(ControlError.PostcopyOutOfOrder,
                s.PostcopyFd == null ? "POSTCOPY_END without POSTCOPY_ADVISE" : "POSTCOPY_END before POSTCOPY_LISTEN");
        s.EndPostcopy();
        s.Log(LogLevel.Info, "postcopy: ended, userfaultfd closed");
        return s.ReplyU64(0);
    }

    /// <summary>
    /// While listening: registers a region just mapped. True when registered (or not listening); false with the
    /// reason in <paramref name="why"/>, and the caller unmaps what it mapped.
    /// </summary>
    public static bool TryRegister(VhostSession s, MappedRegion r, out string? why)
    {
        why = null;
        if (!s.PostcopyListening) return true;
        int rc = s.PostcopyFd!.Register(r);
        if (rc == 0) return true;
        why = $"gpa 0x{r.GuestPhysAddr:x} size 0x{r.Size:x}: UFFDIO_REGISTER: {LibC.StrError(-rc)}" +
            (rc == -LibC.EINVAL ? " (only memfd, shmem and hugetlbfs memory can be postcopied)" : "");
        return false;
    }
}
