using HotPath.Engine.Crypto;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Control.Handlers;

/// <summary>
/// CREATE_CRYPTO_SESSION and CLOSE_CRYPTO_SESSION (protocol feature CRYPTO_SESSION, offered only by a driver
/// registered with <see cref="VhostDriver.EnableCrypto"/>). The table has already checked the payload size (632 bytes
/// and 8 bytes); every field of a new session is validated by <see cref="CryptoSessionRequest.Validate"/>.
/// </summary>
internal static unsafe class CryptoHandlers
{
    /// <summary>
    /// Replies with the payload echoed and session_id set: the new id, or -1 with the reason logged and counted
    /// (QEMU reads a negative id as failure; the connection stays up, as with DPDK's backend).
    /// </summary>
    public static HandlerResult CreateSession(VhostSession s, MessageReader m)
    {
        // The payload is in the reader's own buffer (not guest memory): copied once into a local all the same.
        CryptoSessionPayload p = m.PayloadAs<CryptoSessionPayload>();
        bool op = p.HasOpCode; // DPDK's and QEMU <= 7.0's layout, else QEMU 7.1-8.0's (see CryptoSessionPayload)
        var request = new CryptoSessionRequest
        {
            OpType = op ? p.OpType : p.SymOpType,
            CipherAlgo = op ? p.CipherAlgo : p.SymCipherAlgo,
            CipherKeyLen = op ? p.CipherKeyLen : p.SymCipherKeyLen,
            HashAlgo = op ? p.HashAlgo : p.SymHashAlgo,
            DigestLen = op ? p.DigestLen : p.SymDigestLen,
            AuthKeyLen = op ? p.AuthKeyLen : p.SymAuthKeyLen,
            AadLen = op ? p.AadLen : p.SymAadLen,
            Direction = op ? p.Direction : p.SymDirection,
            HashMode = op ? p.HashMode : p.SymHashMode,
            ChainOrder = op ? p.ChainOrder : p.SymChainOrder,
            // SAFETY: fixed buffers of a local struct, spans of exactly their sizes.
            CipherKeyBuffer = new ReadOnlySpan<byte>(p.CipherKey, CryptoSessionPayload.CipherKeyBufferSize),
            AuthKeyBuffer = new ReadOnlySpan<byte>(p.AuthKey, CryptoSessionPayload.AuthKeyBufferSize),
        };
        if (s.Device.Crypto is not { } crypto) return NotCrypto();
        CryptoSessionError e = crypto.CreateSession(request, out ulong id);
        // Key bytes stay neither in our copy (the reply echoes it) nor in the message buffer.
        new Span<byte>(p.CipherKey, CryptoSessionPayload.CipherKeyBufferSize).Clear();
        new Span<byte>(p.AuthKey, CryptoSessionPayload.AuthKeyBufferSize).Clear();
        ref CryptoSessionPayload raw = ref m.PayloadAs<CryptoSessionPayload>();
        fixed (byte* k = raw.CipherKey) new Span<byte>(k, CryptoSessionPayload.CipherKeyBufferSize).Clear();
        fixed (byte* k = raw.AuthKey) new Span<byte>(k, CryptoSessionPayload.AuthKeyBufferSize).Clear();
        if (e == CryptoSessionError.None)
        {
            p.SessionId = (long)id;
            s.Log(LogLevel.Debug, $"crypto session {id} created ({crypto.Sessions.Count} open, layout {(op ? "with" : "without")} op_code)");
        }
        else
        {
            p.SessionId = -1;
            ControlCounters.CountRefused(ControlError.BadCryptoSession);
            s.Log(LogLevel.Warning, $"CREATE_CRYPTO_SESSION refused: {e.Describe()} (layout {(op ? "with" : "without")} op_code, " +
                $"op_type {request.OpType}, cipher {request.CipherAlgo}, key {request.CipherKeyLen} B, mac {request.HashAlgo}, " +
                $"auth key {request.AuthKeyLen} B, digest {request.DigestLen} B)");
        }
        return s.ReplyStruct(p);
    }

    /// <summary>Closing an unknown or already-closed session is refused (REPLY_ACK nonzero, or the connection closes
    /// without NEED_REPLY: DPDK's rule for a failed message).</summary>
    public static HandlerResult CloseSession(VhostSession s, MessageReader m)
    {
        ulong id = m.PayloadAs<ulong>();
        if (s.Device.Crypto is not { } crypto) return NotCrypto();
        CryptoSessionError e = crypto.CloseSession(id);
        if (e != CryptoSessionError.None) return HandlerResult.Fail(ControlError.BadCryptoSession, $"session {id}: {e.Describe()}");
        s.Log(LogLevel.Debug, $"crypto session {id} closed");
        return HandlerResult.Ok;
    }

    // Unreachable through negotiation (CRYPTO_SESSION is only offered with crypto enabled); kept as a clean refusal.
    private static HandlerResult NotCrypto() =>
        HandlerResult.Fail(ControlError.UnsupportedRequest, "this device does not serve virtio-crypto");
}
