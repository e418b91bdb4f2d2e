using HotPath.Frontend.Memory;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

// Guest memory: the memory table, memory slots, the dirty log and the inflight area.
public sealed partial class VhostUserFrontend
{
    /// <summary>Regions one SET_MEM_TABLE may carry (QEMU's VHOST_MEMORY_BASELINE_NREGIONS; DPDK's maximum too).</summary>
    public const int MemTableMaxRegions = 8;

    /// <summary>SET_MEM_TABLE: every region of <paramref name="memory"/>, its QVA being this process's mapping, one fd each.</summary>
    public void SetMemTable(FrontendMemory memory)
    {
        int n = memory.Regions.Count;
        if (n is 0 or > MemTableMaxRegions)
            throw new ArgumentException($"SET_MEM_TABLE carries 1..{MemTableMaxRegions} regions; the memory has {n}", nameof(memory));
        int[] fds = memory.Regions.Select(r => r.Fd).ToArray();
        if (PostcopyListening)
        {
            SetMemTablePostcopy(memory, fds);
            return;
        }
        Post(FrontendRequest.SetMemTable, FrontendPayloads.MemTable(memory), fds);
    }

    /// <summary>ADD_MEM_REG (CONFIGURE_MEM_SLOTS): one more region, with its fd.</summary>
    public void AddMemReg(FrontendMemory.Region region) => AddMemReg(FrontendPayloads.Region(region), region.Fd);

    public void AddMemReg(MemoryRegionPayload region, int fd)
    {
        if (fd < 0) throw new ArgumentOutOfRangeException(nameof(fd), "ADD_MEM_REG needs the region's fd");
        if (PostcopyListening)
        {
            AddMemRegPostcopy(region, fd);
            return;
        }
        Post(FrontendRequest.AddMemReg, FrontendPayloads.MemReg(region), [fd]);
    }

    /// <summary>REM_MEM_REG (CONFIGURE_MEM_SLOTS): drop a region, named by gpa, size and QVA; no fd (as the spec asks).</summary>
    public void RemMemReg(FrontendMemory.Region region) => RemMemReg(FrontendPayloads.Region(region));

    public void RemMemReg(MemoryRegionPayload region) => Post(FrontendRequest.RemMemReg, FrontendPayloads.MemReg(region));

    /// <summary>
    /// SET_LOG_BASE (LOG_SHMFD): the dirty-page log, <paramref name="mmapSize"/> bytes at <paramref name="mmapOffset"/>
    /// in <paramref name="fd"/>. The backend answers once the log is mapped: an empty reply (DPDK) or a u64 0.
    /// </summary>
    public void SetLogBase(int fd, ulong mmapSize, ulong mmapOffset = 0)
    {
        if (fd < 0) throw new ArgumentOutOfRangeException(nameof(fd), "SET_LOG_BASE needs the log's fd");
        var log = new LogPayload { MmapSize = mmapSize, MmapOffset = mmapOffset };
        using ReceivedMessage reply = Call(FrontendRequest.SetLogBase, FrontendPayloads.Of(log), [fd]);
        ExpectFds(FrontendRequest.SetLogBase, reply, 0);
        if (reply.Payload.Length == 0) return;
        ExpectSize(FrontendRequest.SetLogBase, reply, 8, "SET_LOG_BASE u64 reply");
        if (reply.U64 != 0)
            throw new VhostUserException(FrontendRequest.SetLogBase, VhostUserFailure.Nack,
                $"{Peer} refused the log (replied {reply.U64}, expected 0)");
    }

    /// <summary>SET_LOG_FD (LOG_SHMFD): an eventfd the backend signals when it has written the log.</summary>
    public void SetLogFd(int fd)
    {
        if (fd < 0) throw new ArgumentOutOfRangeException(nameof(fd), "SET_LOG_FD needs an fd");
        Post(FrontendRequest.SetLogFd, default, [fd]);
    }

    /// <summary>
    /// GET_INFLIGHT_FD (INFLIGHT_SHMFD): asks the backend for a shared inflight-tracking area for
    /// <paramref name="numQueues"/> queues of <paramref name="queueSize"/> entries. The reply carries its fd.
    /// </summary>
    public InflightArea GetInflightFd(ushort numQueues, ushort queueSize)
    {
        const FrontendRequest req = FrontendRequest.GetInflightFd;
        byte[] ask = FrontendPayloads.Of(new InflightPayload { NumQueues = numQueues, QueueSize = queueSize });
        using ReceivedMessage reply = Call(req, ask);
        ExpectSize(req, reply, ask.Length, "VhostUserInflight");
        ExpectFds(req, reply, 1);
        InflightPayload got = reply.PayloadAs<InflightPayload>();
        return new InflightArea(reply.TakeFd(0), got.MmapSize, got.MmapOffset, got.NumQueues, got.QueueSize);
    }

    /// <summary>SET_INFLIGHT_FD (INFLIGHT_SHMFD): gives an inflight area back, e.g. after reconnecting.</summary>
    public void SetInflightFd(InflightArea area)
    {
        if (area.Fd < 0) throw new ObjectDisposedException(nameof(area));
        Post(FrontendRequest.SetInflightFd, FrontendPayloads.Of(area.Payload), [area.Fd]);
    }
}
