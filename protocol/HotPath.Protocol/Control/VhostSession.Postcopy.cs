using HotPath.Engine.Memory;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Control;

/// <summary>
/// Postcopy live migration on the destination (VHOST_USER_PROTOCOL_F_PAGEFAULT): ADVISE hands the frontend a
/// userfaultfd, LISTEN makes every region mapped from then on register with it, END releases it. The order is the
/// spec's and QEMU's; anything else is refused with <see cref="ControlError.PostcopyOutOfOrder"/>.
/// </summary>
public sealed partial class VhostSession
{
    /// <summary>The userfaultfd handed over by POSTCOPY_ADVISE, until POSTCOPY_END or the connection ends.</summary>
    internal UserFaultFd? PostcopyFd { get; private set; }

    /// <summary>Between POSTCOPY_LISTEN and POSTCOPY_END: new regions register with <see cref="PostcopyFd"/> and the
    /// memory table messages are answered with this process's addresses of the regions.</summary>
    public bool PostcopyListening { get; private set; }

    internal void SetPostcopyFd(UserFaultFd ufd) => PostcopyFd = ufd;

    internal void StartPostcopyListening() => PostcopyListening = true;

    /// <summary>
    /// POSTCOPY_END, a reset or the end of the connection: unregister every region (which wakes any datapath thread
    /// still waiting for a page: it faults the page in normally) and close the userfaultfd. Idempotent.
    /// </summary>
    internal void EndPostcopy()
    {
        UserFaultFd? ufd = PostcopyFd;
        if (ufd == null) return;
        foreach (MappedRegion r in Device.Regions) ufd.Unregister(r);
        ufd.Dispose();
        PostcopyFd = null;
        PostcopyListening = false;
    }

    /// <summary>
    /// After answering a memory table change with the regions' addresses, QEMU sends one u64 0 that says it is ready
    /// for faults. It reuses the header of the last request it sent (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG, or none
    /// at all when nothing changed) with an 8-byte payload, which no real request of those has. True when this
    /// message is that acknowledgement; it is consumed here and gets no reply.
    /// </summary>
    private bool TryConsumePostcopyAck(in MessageHeader h)
    {
        if (!PostcopyListening || h.Size != 8) return false;
        var r = (FrontendRequest)h.Request;
        if (r != FrontendRequest.None && r != FrontendRequest.SetMemTable && r != FrontendRequest.AddMemReg &&
            r != FrontendRequest.RemMemReg) return false;
        ulong status = _reader.PayloadAs<ulong>();
        if (status != 0) Log(LogLevel.Warning, $"postcopy: the frontend reported {status} after the memory table reply");
        else Log(LogLevel.Debug, "postcopy: the frontend is ready for faults on the new memory table");
        return true;
    }
}
