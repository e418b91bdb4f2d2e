using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

// Per-vring requests: size, addresses, base index, eventfds, enable, and GET_VRING_BASE (stop).
public sealed partial class VhostUserFrontend
{
    /// <summary>Largest vring index SET_VRING_KICK/CALL/ERR can name (8 bits of their u64).</summary>
    public const uint MaxFdVringIndex = (uint)VringFdPayload.IndexMask;

    /// <summary>SET_VRING_NUM: the number of entries of vring <paramref name="index"/>.</summary>
    public void SetVringNum(uint index, uint num) => Post(FrontendRequest.SetVringNum, FrontendPayloads.VringState(index, num));

    /// <summary>SET_VRING_BASE: where the backend starts (split: next avail index; packed: index | wrap &lt;&lt; 15).</summary>
    public void SetVringBase(uint index, uint num) => Post(FrontendRequest.SetVringBase, FrontendPayloads.VringState(index, num));

    /// <summary>SET_VRING_ADDR: the ring areas of <paramref name="ring"/> as QVAs in <paramref name="memory"/>.</summary>
    public void SetVringAddr(uint index, IRingLayout ring, FrontendMemory memory) =>
        SetVringAddr(FrontendPayloads.VringAddr(index, ring, memory));

    public void SetVringAddr(in VringAddrPayload addr) => Post(FrontendRequest.SetVringAddr, FrontendPayloads.Of(addr));

    /// <summary>SET_VRING_KICK: the eventfd the driver kicks; <paramref name="fd"/> &lt; 0 sends NOFD (the backend polls).</summary>
    public void SetVringKick(uint index, int fd) => PostVringFd(FrontendRequest.SetVringKick, index, fd);

    /// <summary>SET_VRING_CALL: the eventfd the backend signals; <paramref name="fd"/> &lt; 0 sends NOFD.</summary>
    public void SetVringCall(uint index, int fd) => PostVringFd(FrontendRequest.SetVringCall, index, fd);

    /// <summary>SET_VRING_ERR: the eventfd the backend signals on a ring error; <paramref name="fd"/> &lt; 0 sends NOFD.</summary>
    public void SetVringErr(uint index, int fd) => PostVringFd(FrontendRequest.SetVringErr, index, fd);

    private void PostVringFd(FrontendRequest request, uint index, int fd)
    {
        if (index > MaxFdVringIndex)
            throw new ArgumentOutOfRangeException(nameof(index), $"{RequestRules.NameOf(request)} names vrings 0..{MaxFdVringIndex} only");
        byte[] payload = FrontendPayloads.U64(FrontendPayloads.VringFd(index, noFd: fd < 0));
        if (fd < 0) Post(request, payload);
        else Post(request, payload, [fd]);
    }

    /// <summary>SET_VRING_ENABLE (needs VHOST_USER_F_PROTOCOL_FEATURES): start or stop processing the ring.</summary>
    public void SetVringEnable(uint index, bool enable) =>
        Post(FrontendRequest.SetVringEnable, FrontendPayloads.VringState(index, enable ? 1u : 0u));

    /// <summary>
    /// GET_VRING_BASE: stops the ring and returns where the backend got to (split: next avail index; packed:
    /// avail index | avail wrap counter &lt;&lt; 15). The reply must name the same vring.
    /// </summary>
    public uint GetVringBase(uint index)
    {
        const FrontendRequest req = FrontendRequest.GetVringBase;
        using ReceivedMessage reply = Call(req, FrontendPayloads.VringState(index, 0));
        ExpectSize(req, reply, 8, "vring state");
        ExpectFds(req, reply, 0);
        VringStatePayload state = reply.PayloadAs<VringStatePayload>();
        if (state.Index != index)
            throw Break(req, VhostUserFailure.MalformedReply, $"{Peer} answered for vring {state.Index}, asked about vring {index}");
        return state.Num;
    }
}
