using HotPath.Engine.Interop;
using HotPath.Engine.Iommu;
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

    /// <summary>vhost_iotlb_msg types (the frontend sends UPDATE and INVALIDATE; MISS and ACCESS_FAIL go the other way).</summary>
    public const byte IotlbMiss = 1, IotlbUpdate = 2, IotlbInvalidate = 3, IotlbAccessFail = 4;

    /// <summary>
    /// IOTLB_MSG (VIRTIO_F_IOMMU_PLATFORM negotiated): UPDATE maps [iova, iova+size) to the frontend virtual addresses
    /// from uaddr with perm; INVALIDATE unmaps [iova, iova+size). Every field is checked at the door: the type, size 0,
    /// wrap-around of iova or uaddr, perm 1..3 (RO, WO, RW), and uaddr+size inside one region of the memory table.
    /// Both run with every vring's access lock held (<see cref="HotPath.Engine.VhostDevice.IotlbUpdate"/>), and
    /// the reply follows, so no burst uses an invalidated mapping once its invalidation is acknowledged.
    /// </summary>
    public static HandlerResult IotlbMsg(VhostSession s, MessageReader m)
    {
        if (!VirtioFeatures.Has(s.Device.Features, VirtioFeatures.AccessPlatform))
            return HandlerResult.Fail(ControlError.IommuNotNegotiated, "IOTLB_MSG without VIRTIO_F_ACCESS_PLATFORM");
        IotlbPayload p = m.PayloadAs<IotlbPayload>();
        if (ControlLog.IsEnabled(LogLevel.Debug))
            s.Log(LogLevel.Debug, $"IOTLB type {p.Type} iova 0x{p.Iova:x} size 0x{p.Size:x} uaddr 0x{p.UserAddr:x} perm {IotlbPerm.Describe(p.Perm)}");
        switch (p.Type)
        {
            case IotlbUpdate:
                if (p.Size == 0) return BadIotlb("UPDATE of size 0");
                if (p.Iova > ulong.MaxValue - (p.Size - 1)) return BadIotlb($"UPDATE iova 0x{p.Iova:x} + size 0x{p.Size:x} wraps around");
                if (p.UserAddr > ulong.MaxValue - (p.Size - 1)) return BadIotlb($"UPDATE uaddr 0x{p.UserAddr:x} + size 0x{p.Size:x} wraps around");
                if (p.Perm is < IotlbPerm.Read or > IotlbPerm.ReadWrite) return BadIotlb($"UPDATE perm 0x{p.Perm:x} is not RO, WO or RW");
                if (s.Device.Memory is not { } mem) return BadIotlb("UPDATE before any memory table");
                if (mem.QvaToHost(p.UserAddr, p.Size) == null)
                    return BadIotlb($"UPDATE uaddr 0x{p.UserAddr:x} size 0x{p.Size:x} is not inside one memory region");
                s.Device.IotlbUpdate(new IotlbEntry(p.Iova, p.Size, p.UserAddr, p.Perm));
                return HandlerResult.Ok;
            case IotlbInvalidate:
                if (p.Size == 0) return BadIotlb("INVALIDATE of size 0");
                if (p.Iova > ulong.MaxValue - (p.Size - 1))
                {
                    // Refused, but nothing stays mapped from iova on: a stale mapping is the one unsafe outcome.
                    s.Device.IotlbInvalidate(p.Iova, ulong.MaxValue);
                    return BadIotlb($"INVALIDATE iova 0x{p.Iova:x} + size 0x{p.Size:x} wraps around (invalidated to the end)");
                }
                s.Device.IotlbInvalidate(p.Iova, p.Iova + (p.Size - 1));
                return HandlerResult.Ok;
            case IotlbMiss:
            case IotlbAccessFail:
                return BadIotlb($"type {(p.Type == IotlbMiss ? "MISS" : "ACCESS_FAIL")} is sent by the backend, not to it");
            default:
                return BadIotlb($"unknown type {p.Type}");
        }
    }

    private static HandlerResult BadIotlb(string why) => HandlerResult.Fail(ControlError.BadIotlbMessage, why);

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
