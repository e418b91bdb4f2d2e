using HotPath.Engine.Interop;
using HotPath.Engine.Virtio;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Control.Handlers;

/// <summary>SET/GET_STATUS, NET_SET_MTU, SEND_RARP, GET/SET_CONFIG, SET_BACKEND_REQ_FD, IOTLB_MSG.</summary>
internal static unsafe class DeviceHandlers
{
    public const int MinMtu = 68, MaxMtu = 65535;

    public static HandlerResult SetStatus(VhostSession s, MessageReader m)
    {
        ulong value = m.PayloadAs<ulong>();
        if (value > 0xFF) return HandlerResult.Fail(ControlError.ReservedBitsSet, $"status 0x{value:x} does not fit 8 bits");
        s.SetStatus((byte)value);
        return HandlerResult.Ok;
    }

    public static HandlerResult GetStatus(VhostSession s, MessageReader m) => s.ReplyU64(s.Status);

    public static HandlerResult NetSetMtu(VhostSession s, MessageReader m)
    {
        ulong mtu = m.PayloadAs<ulong>();
        if (mtu < MinMtu || mtu > MaxMtu) return HandlerResult.Fail(ControlError.BadMtu, $"{mtu} is outside {MinMtu}..{MaxMtu}");
        s.Mtu = (ushort)mtu;
        BitConverter.TryWriteBytes(s.ConfigSpace[10..], (ushort)mtu);
        return HandlerResult.Ok;
    }

    public static HandlerResult SendRarp(VhostSession s, MessageReader m)
    {
        byte[] mac = m.Payload[..6].ToArray();
        s.RarpMac = mac;
        mac.CopyTo(s.ConfigSpace);
        s.Device.RequestRarp(mac);
        return HandlerResult.Ok;
    }

    public static HandlerResult SetBackendReqFd(VhostSession s, MessageReader m)
    {
        int fd = m.TakeFd(0);
        // The channel is read and written as a socket (sendmsg/recvmsg with bounded waits); anything else is refused.
        if (PeerFds.CheckSocket(fd) is { } what)
        {
            LibC.close(fd);
            return HandlerResult.Fail(ControlError.BadChannelFd, $"SET_BACKEND_REQ_FD: fd {what}");
        }
        s.SetBackendChannel(fd);
        return HandlerResult.Ok;
    }

    public static HandlerResult IotlbMsg(VhostSession s, MessageReader m)
    {
        // HotPath never offers VIRTIO_F_ACCESS_PLATFORM (IOMMU_SUPPORT is for later), so there is no IOTLB to update.
        if (!VirtioFeatures.Has(s.Device.Features, VirtioFeatures.AccessPlatform))
            return HandlerResult.Fail(ControlError.IommuNotNegotiated, "IOTLB_MSG without VIRTIO_F_ACCESS_PLATFORM");
        return HandlerResult.Fail(ControlError.UnsupportedRequest, "IOTLB translation is not supported");
    }

    /// <summary>Payload rule of GET/SET_CONFIG: the 12-byte header plus at least cfg.size bytes, at most 256.</summary>
    public static bool ConfigSizeOk(MessageReader m) =>
        m.PayloadLength >= ConfigPayload.HeaderSize && m.PayloadLength <= sizeof(ConfigPayload);

    /// <summary>SECURITY.md case 9: size &gt; 256 or offset outside the config space is refused.</summary>
    private static bool ConfigRangeOk(MessageReader m, out ConfigPayload* cfg, out string why)
    {
        cfg = (ConfigPayload*)((byte*)m.RawMessage + MessageHeader.WireSize);
        uint offset = cfg->Offset, size = cfg->Size;
        why = "";
        if (size > ConfigPayload.ConfigSpaceMax) why = $"size {size} > {ConfigPayload.ConfigSpaceMax}";
        else if (offset > ConfigPayload.ConfigSpaceMax - size) why = $"offset {offset} + size {size} past the config space";
        else if (m.PayloadLength < ConfigPayload.HeaderSize + size) why = $"payload of {m.PayloadLength} bytes is shorter than size {size}";
        return why.Length == 0;
    }

    public static HandlerResult GetConfig(VhostSession s, MessageReader m)
    {
        if (!ConfigRangeOk(m, out ConfigPayload* cfg, out string why)) return HandlerResult.Fail(ControlError.BadConfig, why);
        Span<byte> reply = s.ReplyBuffer;
        new ReadOnlySpan<byte>(cfg, ConfigPayload.HeaderSize).CopyTo(reply);
        s.ConfigSpace.Slice((int)cfg->Offset, (int)cfg->Size).CopyTo(reply[ConfigPayload.HeaderSize..]);
        return s.ReplyBytes(ConfigPayload.HeaderSize + (int)cfg->Size);
    }

    public static HandlerResult SetConfig(VhostSession s, MessageReader m)
    {
        if (!ConfigRangeOk(m, out ConfigPayload* cfg, out string why)) return HandlerResult.Fail(ControlError.BadConfig, why);
        // VHOST_SET_CONFIG_TYPE_FRONTEND (0) or _MIGRATION (1).
        if (cfg->Flags > 1) return HandlerResult.Fail(ControlError.BadConfig, $"unknown flags 0x{cfg->Flags:x}");
        new ReadOnlySpan<byte>(cfg->Region, (int)cfg->Size).CopyTo(s.ConfigSpace[(int)cfg->Offset..]);
        return HandlerResult.Ok;
    }
}
