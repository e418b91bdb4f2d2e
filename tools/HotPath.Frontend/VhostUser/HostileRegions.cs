using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// SECURITY.md case 7: the guest-sized areas beyond the memory table (dirty log, inflight area, single memory
/// regions), with sizes and offsets that overflow or exceed the fd behind them.
/// </summary>
public static class HostileRegions
{
    private const int AreaCase = 7;
    private const ulong TwoMiB = 2 << 20;

    /// <summary>SET_LOG_BASE of <paramref name="mmapSize"/> at <paramref name="mmapOffset"/> in a memfd of <paramref name="fdSize"/> bytes (none when null).</summary>
    public static HostileMessage LogBase(string name, ulong mmapSize, ulong mmapOffset, ulong? fdSize = TwoMiB) =>
        HostileMessage.Honest(name, AreaCase, FrontendRequest.SetLogBase,
            FrontendPayloads.Of(new LogPayload { MmapSize = mmapSize, MmapOffset = mmapOffset }),
            fdSize is { } s ? [HostileFds.Memfd(s)] : null);

    public static HostileMessage LogBaseOverflow() =>
        LogBase("SET_LOG_BASE with offset+size overflowing", 0x2000, ulong.MaxValue - 0xFFF);

    public static HostileMessage LogBaseLargerThanFd() =>
        LogBase("SET_LOG_BASE larger than its fd", 2 * TwoMiB, 0);

    public static HostileMessage LogBaseWithoutFd() =>
        LogBase("SET_LOG_BASE without an fd", 0x1000, 0, fdSize: null);

    /// <summary>SET_INFLIGHT_FD with the given fields and a memfd of <paramref name="fdSize"/> bytes.</summary>
    public static HostileMessage SetInflight(string name, ulong mmapSize, ulong mmapOffset, ushort numQueues, ushort queueSize,
        ulong fdSize = TwoMiB) =>
        HostileMessage.Honest(name, AreaCase, FrontendRequest.SetInflightFd,
            FrontendPayloads.Of(new InflightPayload { MmapSize = mmapSize, MmapOffset = mmapOffset, NumQueues = numQueues, QueueSize = queueSize }),
            [HostileFds.Memfd(fdSize)]);

    public static HostileMessage SetInflightOverflow() =>
        SetInflight("SET_INFLIGHT_FD with offset+size overflowing", 0x2000, ulong.MaxValue - 0xFFF, 2, 256);

    public static HostileMessage SetInflightLargerThanFd() =>
        SetInflight("SET_INFLIGHT_FD larger than its fd", 2 * TwoMiB, 0, 2, 256);

    /// <summary>Counts that index nothing sensible: 0xFFFF queues of 0xFFFF entries in a 2 MiB area.</summary>
    public static HostileMessage SetInflightHugeCounts() =>
        SetInflight("SET_INFLIGHT_FD with 0xFFFF queues of 0xFFFF entries", TwoMiB, 0, 0xFFFF, 0xFFFF);

    public static HostileMessage SetInflightZeroQueues() =>
        SetInflight("SET_INFLIGHT_FD with 0 queues", TwoMiB, 0, 0, 256);

    /// <summary>GET_INFLIGHT_FD asking for <paramref name="numQueues"/> × <paramref name="queueSize"/> (e.g. 0xFFFF × 0xFFFF, 0 × 0).</summary>
    public static HostileMessage GetInflight(ushort numQueues, ushort queueSize) =>
        HostileMessage.Honest($"GET_INFLIGHT_FD for {numQueues} queues of {queueSize}", AreaCase, FrontendRequest.GetInflightFd,
            FrontendPayloads.Of(new InflightPayload { NumQueues = numQueues, QueueSize = queueSize }));

    /// <summary>ADD_MEM_REG of <paramref name="region"/> with a memfd of <paramref name="fdSize"/> bytes (none when null).</summary>
    public static HostileMessage AddMemReg(string name, MemoryRegionPayload region, ulong? fdSize = TwoMiB) =>
        HostileMessage.Honest(name, AreaCase, FrontendRequest.AddMemReg, FrontendPayloads.MemReg(region),
            fdSize is { } s ? [HostileFds.Memfd(s)] : null);

    public static HostileMessage AddMemRegGpaOverflow() =>
        AddMemReg("ADD_MEM_REG with gpa+size overflowing", HostileMemoryTables.Region(0) with { GuestPhysAddr = ulong.MaxValue - 0xFFF });

    public static HostileMessage AddMemRegOffsetOverflow() =>
        AddMemReg("ADD_MEM_REG with mmap_offset+size overflowing", HostileMemoryTables.Region(0) with { MmapOffset = ulong.MaxValue - 0xFFF });

    public static HostileMessage AddMemRegLargerThanFd() =>
        AddMemReg("ADD_MEM_REG larger than its fd", HostileMemoryTables.Region(0, size: 2 * TwoMiB));

    public static HostileMessage AddMemRegZeroSize() =>
        AddMemReg("ADD_MEM_REG with a zero-sized region", HostileMemoryTables.Region(0, size: 0));

    public static HostileMessage AddMemRegWithoutFd() =>
        AddMemReg("ADD_MEM_REG without an fd", HostileMemoryTables.Region(0), fdSize: null);

    /// <summary>REM_MEM_REG of a region that was never added.</summary>
    public static HostileMessage RemMemRegUnknown() =>
        HostileMessage.Honest("REM_MEM_REG of a region never added", AreaCase, FrontendRequest.RemMemReg,
            FrontendPayloads.MemReg(HostileMemoryTables.Region(5)));
}
