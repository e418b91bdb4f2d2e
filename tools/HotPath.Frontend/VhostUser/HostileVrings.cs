using HotPath.Engine.Interop;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>Which ring area a misaligned SET_VRING_ADDR moves off its alignment.</summary>
public enum RingArea
{
    /// <summary>Descriptor table / packed ring: 16-byte aligned.</summary>
    Desc,
    /// <summary>Avail ring / driver event area: 2-byte aligned (split), 4 (packed).</summary>
    Avail,
    /// <summary>Used ring / device event area: 4-byte aligned.</summary>
    Used,
}

/// <summary>SECURITY.md cases 3, 4 and 6: vring indexes, sizes and ring addresses a backend must refuse.</summary>
public static class HostileVrings
{
    private const int IndexCase = 3, NumCase = 4, AddrCase = 6;

    /// <summary>
    /// Case 3: a vring-state request (SET_VRING_NUM/BASE/ENABLE, GET_VRING_BASE) or SET_VRING_ADDR naming
    /// <paramref name="index"/> (e.g. the backend's max queues, 0x10000, 0xFFFFFFFF), with an otherwise plain payload.
    /// </summary>
    public static HostileMessage Index(FrontendRequest request, uint index)
    {
        byte[] payload = request switch
        {
            FrontendRequest.SetVringNum => FrontendPayloads.VringState(index, 256),
            FrontendRequest.SetVringBase or FrontendRequest.GetVringBase => FrontendPayloads.VringState(index, 0),
            FrontendRequest.SetVringEnable => FrontendPayloads.VringState(index, 1),
            FrontendRequest.SetVringAddr => FrontendPayloads.Of(new VringAddrPayload { Index = index }),
            _ => throw new ArgumentOutOfRangeException(nameof(request), $"{RequestRules.NameOf(request)} carries no vring state"),
        };
        return HostileMessage.Honest($"{RequestRules.NameOf(request)} for vring 0x{index:x}", IndexCase, request, payload);
    }

    /// <summary>SET_VRING_KICK/CALL/ERR for vring <paramref name="index"/> carrying an fd of <paramref name="kind"/>
    /// instead of an eventfd (issue 11: a pipe whose buffer fills blocks whoever writes it). A pipe's read end is
    /// returned in <paramref name="pipeReadEnd"/> (the caller closes it) so the pipe stays open.</summary>
    public static HostileMessage NotAnEventFd(FrontendRequest request, uint index, HostileFds.NotEventFd kind, out int pipeReadEnd)
    {
        if (request is not (FrontendRequest.SetVringKick or FrontendRequest.SetVringCall or FrontendRequest.SetVringErr))
            throw new ArgumentOutOfRangeException(nameof(request), "SET_VRING_KICK, SET_VRING_CALL or SET_VRING_ERR");
        int fd = HostileFds.Make(kind, out pipeReadEnd);
        return HostileMessage.Honest($"{RequestRules.NameOf(request)} with {kind}", IndexCase, request,
            FrontendPayloads.U64(index), new[] { fd });
    }

    /// <summary>SET_BACKEND_REQ_FD carrying <paramref name="kind"/> ("pipe", "eventfd", "memfd") instead of a socket.</summary>
    public static HostileMessage BackendChannelNotASocket(string kind)
    {
        int fd, readEnd = -1;
        switch (kind)
        {
            case "pipe": fd = HostileFds.Make(HostileFds.NotEventFd.Pipe, out readEnd); break;
            case "eventfd": fd = HostileFds.EventFd(); break;
            case "memfd": fd = HostileFds.Make(HostileFds.NotEventFd.Memfd, out _); break;
            default: throw new ArgumentException(kind, nameof(kind));
        }
        if (readEnd >= 0) LibC.close(readEnd);
        return HostileMessage.Honest($"SET_BACKEND_REQ_FD with a {kind}", 2, FrontendRequest.SetBackendReqFd, Array.Empty<byte>(), new[] { fd });
    }

    /// <summary>
    /// Case 3: SET_VRING_KICK/CALL/ERR with a raw u64 <paramref name="value"/>: an index the backend lacks (bits
    /// 0-7), or reserved bits set (0x10000, 0xFFFFFFFF) that a backend truncating to 8 bits would not notice.
    /// Carries an eventfd unless NOFD (bit 8) is set in the value.
    /// </summary>
    public static HostileMessage FdIndex(FrontendRequest request, ulong value)
    {
        if (request is not (FrontendRequest.SetVringKick or FrontendRequest.SetVringCall or FrontendRequest.SetVringErr))
            throw new ArgumentOutOfRangeException(nameof(request), "SET_VRING_KICK, SET_VRING_CALL or SET_VRING_ERR");
        bool noFd = (value & VringFdPayload.NoFdFlag) != 0;
        return HostileMessage.Honest($"{RequestRules.NameOf(request)} with u64 0x{value:x}", IndexCase, request,
            FrontendPayloads.U64(value), noFd ? null : HostileFds.EventFds(1));
    }

    /// <summary>Case 4: SET_VRING_NUM with <paramref name="num"/> (0, not a power of two, above 32768).</summary>
    public static HostileMessage Num(uint num, uint index = 0) =>
        HostileMessage.Honest($"SET_VRING_NUM {num} for vring {index}", NumCase, FrontendRequest.SetVringNum,
            FrontendPayloads.VringState(index, num));

    public static HostileMessage NumZero() => Num(0);
    public static HostileMessage NumNotPowerOfTwo() => Num(1000);
    public static HostileMessage NumAboveMaximum() => Num(32768 * 2);

    /// <summary>The honest SET_VRING_ADDR for <paramref name="ring"/>, the base every address case alters.</summary>
    public static VringAddrPayload Good(FrontendMemory memory, IRingLayout ring, uint index) =>
        FrontendPayloads.VringAddr(index, ring, memory);

    /// <summary>Case 6: a SET_VRING_ADDR with the given addresses and flags.</summary>
    public static HostileMessage Addr(string name, in VringAddrPayload addr) =>
        HostileMessage.Honest(name, AddrCase, FrontendRequest.SetVringAddr, FrontendPayloads.Of(addr));

    /// <summary>
    /// Case 6: one ring area at a QVA in no region: 1 MiB past the highest region end (regions are separate
    /// mappings, in no particular address order).
    /// </summary>
    public static HostileMessage OutsideMemory(FrontendMemory memory, IRingLayout ring, uint index, RingArea area = RingArea.Desc)
    {
        ulong outside = memory.Regions.Max(r => r.UserAddr + r.Size) + 0x10_0000;
        return Addr($"SET_VRING_ADDR with the {area} area outside guest memory", With(Good(memory, ring, index), area, outside));
    }

    /// <summary>
    /// Case 6: the descriptor table starts 16 bytes before the end of region 0 and runs past it (into a gap or
    /// the next region), so no single region holds it.
    /// </summary>
    public static HostileMessage RunsPastRegionEnd(FrontendMemory memory, IRingLayout ring, uint index)
    {
        FrontendMemory.Region first = memory.Regions[0];
        ulong nearEnd = first.UserAddr + first.Size - 16;
        return Addr("SET_VRING_ADDR with the descriptor table running past its region's end",
            With(Good(memory, ring, index), RingArea.Desc, nearEnd));
    }

    /// <summary>Case 6: one area moved off its alignment (desc by 8, avail by 1, used by 2).</summary>
    public static HostileMessage Misaligned(FrontendMemory memory, IRingLayout ring, uint index, RingArea area)
    {
        VringAddrPayload a = Good(memory, ring, index);
        ulong at = area switch { RingArea.Desc => a.DescUserAddr + 8, RingArea.Avail => a.AvailUserAddr + 1, _ => a.UsedUserAddr + 2 };
        return Addr($"SET_VRING_ADDR with a misaligned {area} area", With(a, area, at));
    }

    /// <summary>Case 6: flag bits other than bit 0 (VHOST_VRING_F_LOG).</summary>
    public static HostileMessage UnknownFlags(FrontendMemory memory, IRingLayout ring, uint index, uint flags = 0xFFFF_FFFE) =>
        Addr($"SET_VRING_ADDR with flags 0x{flags:x}", Good(memory, ring, index) with { Flags = flags });

    /// <summary>
    /// Case 6: a well-formed SET_VRING_ADDR meant to be sent before any SET_MEM_TABLE: the backend has nothing to
    /// translate it against yet.
    /// </summary>
    public static HostileMessage BeforeMemTable(FrontendMemory memory, IRingLayout ring, uint index) =>
        Addr("SET_VRING_ADDR before any SET_MEM_TABLE", Good(memory, ring, index));

    private static VringAddrPayload With(VringAddrPayload a, RingArea area, ulong qva) => area switch
    {
        RingArea.Desc => a with { DescUserAddr = qva },
        RingArea.Avail => a with { AvailUserAddr = qva },
        _ => a with { UsedUserAddr = qva },
    };
}
