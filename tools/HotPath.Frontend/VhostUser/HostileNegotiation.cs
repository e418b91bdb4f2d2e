using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// SECURITY.md cases 8 and 9: features never offered, requests whose protocol feature was not negotiated, and
/// config-space accesses outside the 256-byte space.
/// </summary>
public static class HostileNegotiation
{
    private const int FeatureCase = 8, ConfigCase = 9;

    /// <summary>Case 8: SET_FEATURES accepting every bit the backend did not offer, plus what it did.</summary>
    public static HostileMessage FeaturesNeverOffered(ulong offered) =>
        HostileMessage.Honest($"SET_FEATURES with bits never offered (0x{~offered:x})", FeatureCase, FrontendRequest.SetFeatures,
            FrontendPayloads.U64(ulong.MaxValue));

    /// <summary>Case 8: SET_PROTOCOL_FEATURES with every bit the backend did not offer, plus what it did.</summary>
    public static HostileMessage ProtocolFeaturesUnsupported(ulong offered) =>
        HostileMessage.Honest($"SET_PROTOCOL_FEATURES with unsupported bits (0x{~offered:x})", FeatureCase,
            FrontendRequest.SetProtocolFeatures, FrontendPayloads.U64(ulong.MaxValue));

    /// <summary>
    /// Case 8: a well-formed <paramref name="request"/> for a connection that did not negotiate the protocol feature
    /// it needs (see <see cref="RequestRules"/>): SET/GET_STATUS, GET_QUEUE_NUM, GET_MAX_MEM_SLOTS, SEND_RARP,
    /// NET_SET_MTU, GET_CONFIG, RESET_DEVICE, SET_VRING_ENABLE, GET_INFLIGHT_FD, SET_LOG_FD, SET_BACKEND_REQ_FD.
    /// </summary>
    public static HostileMessage WithoutProtocolFeature(FrontendRequest request)
    {
        (byte[] payload, int[]? fds) = request switch
        {
            FrontendRequest.SetStatus => (FrontendPayloads.U64(DeviceStatus.Acknowledge), null),
            FrontendRequest.GetStatus or FrontendRequest.GetQueueNum or FrontendRequest.GetMaxMemSlots
                or FrontendRequest.ResetDevice => (Array.Empty<byte>(), null),
            FrontendRequest.SendRarp => (FrontendPayloads.Mac([0x52, 0x54, 0, 0x12, 0x34, 0x56]), null),
            FrontendRequest.NetSetMtu => (FrontendPayloads.U64(1500), null),
            FrontendRequest.GetConfig => (FrontendPayloads.Config(0, 8, 0, new byte[8]), null),
            FrontendRequest.SetVringEnable => (FrontendPayloads.VringState(0, 1), null),
            FrontendRequest.GetInflightFd => (FrontendPayloads.Of(new InflightPayload { NumQueues = 2, QueueSize = 256 }), null),
            FrontendRequest.SetLogFd => (Array.Empty<byte>(), HostileFds.EventFds(1)),
            FrontendRequest.SetBackendReqFd => (Array.Empty<byte>(), HostileFds.EventFds(1)),
            _ => throw new ArgumentOutOfRangeException(nameof(request), $"no builder for {RequestRules.NameOf(request)}"),
        };
        RequestRule rule = RequestRules.For(request);
        string needs = rule.ProtocolFeature >= 0 ? ProtocolFeatures.Name(rule.ProtocolFeature) : "VHOST_USER_F_PROTOCOL_FEATURES";
        return HostileMessage.Honest($"{rule.Name} without {needs} negotiated", FeatureCase, request, payload, fds);
    }

    /// <summary>
    /// Case 9: GET_CONFIG or SET_CONFIG whose inner offset/size say <paramref name="offset"/>/<paramref name="size"/>
    /// while the message carries <paramref name="dataBytes"/> bytes of config data (at most 256 fit any backend's
    /// buffer; default min(size, 256)).
    /// </summary>
    public static HostileMessage Config(FrontendRequest request, uint offset, uint size, int? dataBytes = null)
    {
        if (request is not (FrontendRequest.GetConfig or FrontendRequest.SetConfig))
            throw new ArgumentOutOfRangeException(nameof(request), "GET_CONFIG or SET_CONFIG");
        int n = dataBytes ?? (int)Math.Min(size, ConfigPayload.ConfigSpaceMax);
        return HostileMessage.Honest($"{RequestRules.NameOf(request)} at offset {offset} size {size} with {n} data bytes",
            ConfigCase, request, FrontendPayloads.Config(offset, size, 0, new byte[n]));
    }

    public static HostileMessage ConfigSizeAboveMaximum(FrontendRequest request = FrontendRequest.GetConfig) =>
        Config(request, 0, ConfigPayload.ConfigSpaceMax + 1);

    /// <summary>Offset + size past the 256-byte space (248 + 16).</summary>
    public static HostileMessage ConfigPastEnd(FrontendRequest request = FrontendRequest.GetConfig) => Config(request, 248, 16);

    /// <summary>offset + size wraps a u32.</summary>
    public static HostileMessage ConfigOffsetOverflow(FrontendRequest request = FrontendRequest.GetConfig) =>
        Config(request, 0xFFFF_FFF8, 16);
}
