using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

// virtio-crypto sessions (protocol feature CRYPTO_SESSION), as QEMU's cryptodev-vhost-user sends them.
public sealed partial class VhostUserFrontend
{
    /// <summary>
    /// CREATE_CRYPTO_SESSION: sends the session parameters and returns the session_id of the reply (-1 when the
    /// backend refused the session; QEMU treats any negative id as failure). Sent without NEED_REPLY, as QEMU does.
    /// </summary>
    public long CreateCryptoSession(in CryptoSessionPayload session)
    {
        using ReceivedMessage reply = Call(FrontendRequest.CreateCryptoSession, FrontendPayloads.Of(session));
        ExpectSize(FrontendRequest.CreateCryptoSession, reply, CryptoSessionPayload.WireSize, "VhostUserCryptoSession");
        ExpectFds(FrontendRequest.CreateCryptoSession, reply, 0);
        return BitConverter.ToInt64(reply.Payload);
    }

    /// <summary>CLOSE_CRYPTO_SESSION: with REPLY_ACK negotiated a refusal throws a Nack; without it the backend closes.</summary>
    public void CloseCryptoSession(ulong sessionId) => Post(FrontendRequest.CloseCryptoSession, FrontendPayloads.U64(sessionId));
}
