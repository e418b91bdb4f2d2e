using System.Text;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>What a frontend request expects back (besides the REPLY_ACK u64, which only requests with no reply get).</summary>
public enum ReplyKind
{
    /// <summary>No reply of its own; with REPLY_ACK negotiated the frontend may ask for a u64 ack.</summary>
    None,
    /// <summary>A u64 (GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, GET_MAX_MEM_SLOTS, GET_STATUS).</summary>
    U64,
    /// <summary>A vring state (GET_VRING_BASE).</summary>
    VringState,
    /// <summary>The request's own VhostUserConfig, filled in (GET_CONFIG).</summary>
    Config,
    /// <summary>A VhostUserInflight plus one fd (GET_INFLIGHT_FD).</summary>
    Inflight,
    /// <summary>SET_LOG_BASE with LOG_SHMFD: an empty reply (DPDK) or a u64 0 (the spec's table).</summary>
    LogBase,
    /// <summary>An empty payload and one fd: the backend's userfaultfd (POSTCOPY_ADVISE).</summary>
    UserFaultFd,
    /// <summary>The VhostUserCryptoSession sent, with session_id filled in (CREATE_CRYPTO_SESSION).</summary>
    CryptoSession,
}

/// <summary>
/// One row per frontend request: its wire name, the protocol feature it needs, and the reply it gets. The frontend
/// consults this one table before sending anything, as DPDK's and rust-vmm's backends consult theirs on receipt.
/// </summary>
public readonly record struct RequestRule(FrontendRequest Request, ReplyKind Reply, int ProtocolFeature = -1,
    bool NeedsProtocolFeaturesBit = false)
{
    public string Name => RequestRules.NameOf(Request);
}

public static class RequestRules
{
    private const int None = -1;

    private static readonly Dictionary<FrontendRequest, RequestRule> Table = new RequestRule[]
    {
        new(FrontendRequest.GetFeatures, ReplyKind.U64),
        new(FrontendRequest.SetFeatures, ReplyKind.None),
        new(FrontendRequest.SetOwner, ReplyKind.None),
        new(FrontendRequest.ResetOwner, ReplyKind.None),
        new(FrontendRequest.SetMemTable, ReplyKind.None),
        new(FrontendRequest.SetLogBase, ReplyKind.LogBase, ProtocolFeatures.LogShmfd),
        new(FrontendRequest.SetLogFd, ReplyKind.None, ProtocolFeatures.LogShmfd),
        new(FrontendRequest.SetVringNum, ReplyKind.None),
        new(FrontendRequest.SetVringAddr, ReplyKind.None),
        new(FrontendRequest.SetVringBase, ReplyKind.None),
        new(FrontendRequest.GetVringBase, ReplyKind.VringState),
        new(FrontendRequest.SetVringKick, ReplyKind.None),
        new(FrontendRequest.SetVringCall, ReplyKind.None),
        new(FrontendRequest.SetVringErr, ReplyKind.None),
        new(FrontendRequest.GetProtocolFeatures, ReplyKind.U64, None, NeedsProtocolFeaturesBit: true),
        new(FrontendRequest.SetProtocolFeatures, ReplyKind.None, None, NeedsProtocolFeaturesBit: true),
        new(FrontendRequest.GetQueueNum, ReplyKind.U64, ProtocolFeatures.Mq),
        new(FrontendRequest.SetVringEnable, ReplyKind.None, None, NeedsProtocolFeaturesBit: true),
        new(FrontendRequest.SendRarp, ReplyKind.None, ProtocolFeatures.Rarp),
        new(FrontendRequest.NetSetMtu, ReplyKind.None, ProtocolFeatures.NetMtu),
        new(FrontendRequest.SetBackendReqFd, ReplyKind.None, ProtocolFeatures.BackendReq),
        new(FrontendRequest.IotlbMsg, ReplyKind.None),
        new(FrontendRequest.GetConfig, ReplyKind.Config, ProtocolFeatures.Config),
        new(FrontendRequest.SetConfig, ReplyKind.None, ProtocolFeatures.Config),
        new(FrontendRequest.CreateCryptoSession, ReplyKind.CryptoSession, ProtocolFeatures.CryptoSession),
        new(FrontendRequest.CloseCryptoSession, ReplyKind.None, ProtocolFeatures.CryptoSession),
        new(FrontendRequest.PostcopyAdvise, ReplyKind.UserFaultFd, ProtocolFeatures.Pagefault),
        new(FrontendRequest.PostcopyListen, ReplyKind.None, ProtocolFeatures.Pagefault),
        new(FrontendRequest.PostcopyEnd, ReplyKind.None, ProtocolFeatures.Pagefault),
        new(FrontendRequest.GetInflightFd, ReplyKind.Inflight, ProtocolFeatures.InflightShmfd),
        new(FrontendRequest.SetInflightFd, ReplyKind.None, ProtocolFeatures.InflightShmfd),
        new(FrontendRequest.ResetDevice, ReplyKind.None, ProtocolFeatures.ResetDevice),
        new(FrontendRequest.GetMaxMemSlots, ReplyKind.U64, ProtocolFeatures.ConfigureMemSlots),
        new(FrontendRequest.AddMemReg, ReplyKind.None, ProtocolFeatures.ConfigureMemSlots),
        new(FrontendRequest.RemMemReg, ReplyKind.None, ProtocolFeatures.ConfigureMemSlots),
        new(FrontendRequest.SetStatus, ReplyKind.None, ProtocolFeatures.Status),
        new(FrontendRequest.GetStatus, ReplyKind.U64, ProtocolFeatures.Status),
    }.ToDictionary(r => r.Request);

    /// <summary>The rule for a request the typed frontend sends; throws for requests it does not implement.</summary>
    public static RequestRule For(FrontendRequest request) =>
        Table.TryGetValue(request, out RequestRule rule)
            ? rule
            : throw new ArgumentOutOfRangeException(nameof(request), $"the frontend does not send {NameOf(request)}");

    public static bool IsKnown(FrontendRequest request) => Table.ContainsKey(request);

    /// <summary>The spec's name of a request id: GetVringBase → GET_VRING_BASE; unknown ids read "request 99".</summary>
    public static string NameOf(FrontendRequest request) =>
        Enum.IsDefined(request) ? UpperSnake(request.ToString()) : $"request {(uint)request}";

    public static string NameOf(BackendRequest request) =>
        Enum.IsDefined(request) ? UpperSnake(request.ToString()) : $"backend request {(uint)request}";

    private static string UpperSnake(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 8);
        for (int i = 0; i < pascal.Length; i++)
        {
            if (i > 0 && char.IsUpper(pascal[i])) sb.Append('_');
            sb.Append(char.ToUpperInvariant(pascal[i]));
        }
        return sb.ToString();
    }
}
