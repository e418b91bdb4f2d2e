using HotPath.Engine.Logging;
using HotPath.Engine.Memory;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Control.Handlers;

/// <summary>SET_LOG_BASE and SET_LOG_FD (live-migration dirty logging).</summary>
internal static class LogHandlers
{
    public static HandlerResult SetLogBase(VhostSession s, MessageReader m)
    {
        LogPayload p = m.PayloadAs<LogPayload>();
        int fd = m.TakeFd(0);
        MemoryError e = DirtyLog.TryMap(fd, p.MmapSize, p.MmapOffset, out DirtyLog? log);
        if (e != MemoryError.None)
        {
            HotPath.Engine.Interop.LibC.close(fd);
            return HandlerResult.Fail(ControlError.BadLogBase, $"size 0x{p.MmapSize:x} offset 0x{p.MmapOffset:x}: {e.Describe()}");
        }
        ulong span = s.Device.Memory?.GuestPhysEnd ?? 0;
        if (log!.CoveredBytes < span)
        {
            log.Dispose();
            return HandlerResult.Fail(ControlError.BadLogBase,
                $"log of {p.MmapSize} bytes covers 0x{log.CoveredBytes:x} bytes of guest memory, which ends at 0x{span:x}");
        }
        s.Device.SetLog(log);
        // QEMU waits for a reply with an empty payload once LOG_SHMFD is negotiated.
        return s.ReplyBytes(0);
    }

    public static bool LogFdSizeOk(MessageReader m) => m.PayloadLength is 0 or 8;

    public static HandlerResult SetLogFd(VhostSession s, MessageReader m)
    {
        int old = s.LogFd;
        if (old >= 0) HotPath.Engine.Interop.LibC.close(old);
        s.LogFd = m.TakeFd(0);
        return HandlerResult.Ok;
    }
}
