using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

// Net-device and device-config requests, and the backend-request channel.
public sealed partial class VhostUserFrontend
{
    /// <summary>NET_SET_MTU (NET_MTU): the MTU the driver uses. With REPLY_ACK the backend says whether it is valid.</summary>
    public void NetSetMtu(ulong mtu) => Post(FrontendRequest.NetSetMtu, FrontendPayloads.U64(mtu));

    /// <summary>SEND_RARP (RARP): ask the backend to announce <paramref name="mac"/> (after a migration).</summary>
    public void SendRarp(ReadOnlySpan<byte> mac) => Post(FrontendRequest.SendRarp, FrontendPayloads.Mac(mac));

    /// <summary>
    /// GET_CONFIG (CONFIG): <paramref name="size"/> bytes of the device config space at <paramref name="offset"/>.
    /// The reply must echo offset and size and be as long as the request.
    /// </summary>
    public byte[] GetConfig(uint offset, uint size, uint flags = 0)
    {
        const FrontendRequest req = FrontendRequest.GetConfig;
        CheckConfigRange(offset, size);
        byte[] ask = FrontendPayloads.Config(offset, size, flags, new byte[size]);
        using ReceivedMessage reply = Call(req, ask);
        ExpectSize(req, reply, ask.Length, $"VhostUserConfig of {size} bytes");
        ExpectFds(req, reply, 0);
        uint gotOffset = BitConverter.ToUInt32(reply.Payload, 0), gotSize = BitConverter.ToUInt32(reply.Payload, 4);
        if (gotOffset != offset || gotSize != size)
            throw Break(req, VhostUserFailure.MalformedReply,
                $"{Peer} answered for offset {gotOffset} size {gotSize}, asked for offset {offset} size {size}");
        return reply.Payload.AsSpan(ConfigPayload.HeaderSize).ToArray();
    }

    /// <summary>SET_CONFIG (CONFIG): writes <paramref name="data"/> at <paramref name="offset"/> of the config space.</summary>
    public void SetConfig(uint offset, ReadOnlySpan<byte> data, uint flags = 0)
    {
        CheckConfigRange(offset, (uint)data.Length);
        Post(FrontendRequest.SetConfig, FrontendPayloads.Config(offset, (uint)data.Length, flags, data));
    }

    private static void CheckConfigRange(uint offset, uint size)
    {
        if (size == 0 || size > ConfigPayload.ConfigSpaceMax || offset > ConfigPayload.ConfigSpaceMax - size)
            throw new ArgumentOutOfRangeException(nameof(size),
                $"config access at {offset}+{size} is outside the {ConfigPayload.ConfigSpaceMax}-byte config space");
    }

    /// <summary>
    /// SET_BACKEND_REQ_FD (BACKEND_REQ): creates a socketpair, sends one end and keeps the other as
    /// <see cref="BackendChannel"/>, on which the backend sends its own requests (CONFIG_CHANGE_MSG, ...).
    /// A previous channel is closed. Like QEMU, our copy of the backend's end is closed once it has been sent.
    /// </summary>
    public BackendChannel SetBackendReqFd()
    {
        Check(FrontendRequest.SetBackendReqFd);   // refuse before making the socketpair
        (int ours, int theirs) = UnixSockets.Pair();
        var channel = new BackendChannel(ours, ReplyTimeout, Peer);
        try
        {
            Post(FrontendRequest.SetBackendReqFd, default, [theirs]);
        }
        catch
        {
            channel.Dispose();
            throw;
        }
        finally
        {
            Engine.Interop.LibC.close(theirs);
        }
        _backendChannel?.Dispose();
        _backendChannel = channel;
        return channel;
    }
}
