using HotPath.Engine.Inflight;
using HotPath.Engine.Interop;
using HotPath.Engine.Memory;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Control.Handlers;

/// <summary>GET/SET_INFLIGHT_FD: the shared region that survives a backend restart.</summary>
internal static class InflightHandlers
{
    public static HandlerResult GetInflightFd(VhostSession s, MessageReader m)
    {
        InflightPayload p = m.PayloadAs<InflightPayload>();
        if (!InflightRegion.ValidCounts(p.NumQueues, p.QueueSize))
            return HandlerResult.Fail(ControlError.BadInflight, $"num_queues {p.NumQueues} queue_size {p.QueueSize}");
        int rc = InflightRegion.TryCreate(p.NumQueues, p.QueueSize, s.Device.IsPacked, out InflightRegion? region);
        if (rc != 0) return HandlerResult.Fail(ControlError.BadInflight, $"cannot create the region: {LibC.StrError(-rc)}");
        int dup = LibC.dup(region!.Fd);
        if (dup < 0)
        {
            region.Dispose();
            return HandlerResult.Fail(ControlError.BadInflight, $"dup: {LibC.StrError(LibC.Errno)}");
        }
        s.Device.SetInflight(region);
        s.ReplyFd(dup);
        return s.ReplyStruct(new InflightPayload
        {
            MmapSize = region.Size, MmapOffset = 0, NumQueues = p.NumQueues, QueueSize = p.QueueSize,
        });
    }

    public static HandlerResult SetInflightFd(VhostSession s, MessageReader m)
    {
        InflightPayload p = m.PayloadAs<InflightPayload>();
        int fd = m.TakeFd(0);
        MemoryError e = InflightRegion.TryMap(fd, p.MmapSize, p.MmapOffset, p.NumQueues, p.QueueSize,
            s.Device.IsPacked, out InflightRegion? region);
        if (e != MemoryError.None)
        {
            LibC.close(fd);
            return HandlerResult.Fail(ControlError.BadInflight,
                $"size 0x{p.MmapSize:x} offset 0x{p.MmapOffset:x} queues {p.NumQueues}x{p.QueueSize}: {e.Describe()}");
        }
        s.Device.SetInflight(region);
        return HandlerResult.Ok;
    }
}
