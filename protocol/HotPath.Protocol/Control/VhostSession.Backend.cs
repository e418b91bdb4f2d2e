using HotPath.Engine.Interop;
using HotPath.Protocol.Wire;
using PF = HotPath.Protocol.Wire.ProtocolFeatures;

namespace HotPath.Protocol.Control;

/// <summary>Requests HotPath sends to the frontend on the backend request channel.</summary>
public sealed partial class VhostSession
{
    /// <summary>How long a backend request waits for the frontend (hp_vhost_backend_config_change).</summary>
    public static readonly TimeSpan BackendReplyTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// rte_vhost_slave_config_change: CONFIG_CHANGE_MSG on the backend request channel, telling the frontend to read
    /// the device config space again; with <paramref name="needReply"/> the frontend's ack is awaited for at most
    /// <paramref name="timeout"/>. Callable from any thread. Returns 0 or a negative errno with the reason in
    /// <paramref name="error"/>: -ENOTSUP when BACKEND_REQ and CONFIG (and REPLY_ACK, to wait for a reply) were not
    /// negotiated or no channel was set up; -ETIMEDOUT, -ECONNRESET, -EPIPE, -EPROTO, -EIO from the channel.
    /// </summary>
    public int SendConfigChange(bool needReply, TimeSpan timeout, out string error)
    {
        ulong pf = ProtocolFeatures;
        if (!PF.Has(pf, PF.BackendReq) || !PF.Has(pf, PF.Config))
        {
            error = "the frontend did not negotiate the BACKEND_REQ and CONFIG protocol features";
            return -LibC.ENOTSUP;
        }
        if (needReply && !PF.Has(pf, PF.ReplyAck))
        {
            error = "waiting for a reply needs the REPLY_ACK protocol feature, which the frontend did not negotiate";
            return -LibC.ENOTSUP;
        }
        BackendRequestChannel? channel = BackendChannel;
        if (channel == null)
        {
            error = "the frontend set up no backend request channel (no SET_BACKEND_REQ_FD)";
            return -LibC.ENOTSUP;
        }
        int rc = channel.Send(BackendRequest.ConfigChangeMsg, default, needReply, timeout, out error);
        if (rc != 0) Log(LogLevel.Warning, $"CONFIG_CHANGE_MSG: {error}");
        return rc;
    }
}
