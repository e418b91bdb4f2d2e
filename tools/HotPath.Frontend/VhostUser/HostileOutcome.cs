using HotPath.Protocol.Transport;

namespace HotPath.Frontend.VhostUser;

/// <summary>What the backend did after a hostile message.</summary>
public enum HostileResult
{
    /// <summary>It sent a well-framed reply (see <see cref="HostileOutcome.Reply"/>).</summary>
    Replied,
    /// <summary>It closed the connection (or reset it, or the send itself found it closed).</summary>
    Closed,
    /// <summary>Nothing within the timeout; the connection is still open.</summary>
    NoReply,
    /// <summary>It sent bytes that are not a valid reply (see <see cref="HostileOutcome.Framing"/>).</summary>
    MalformedReply,
}

/// <summary>
/// The backend's reaction to one hostile message: replied (with what), closed, stayed silent, or answered with
/// garbage. Owns the reply's fds.
/// </summary>
public sealed class HostileOutcome : IDisposable
{
    internal HostileOutcome(HostileResult result, ReceivedMessage? reply, string detail)
    {
        Result = result;
        Reply = reply;
        Detail = detail;
    }

    public HostileResult Result { get; }
    public ReceivedMessage? Reply { get; }
    public string Detail { get; }
    public FramingError Framing => Reply?.Framing ?? FramingError.None;

    /// <summary>The reply's u64 (a REPLY_ACK) when the backend replied with exactly 8 bytes; null otherwise.</summary>
    public ulong? ReplyU64 => Result == HostileResult.Replied && Reply!.Payload.Length == 8 ? Reply.U64 : null;

    /// <summary>True when the backend refused: closed the connection or answered a NEED_REPLY with a non-zero ack.</summary>
    public bool Refused => Result == HostileResult.Closed || ReplyU64 is > 0;

    public override string ToString() => $"{Result}: {Detail}";

    public void Dispose() => Reply?.Dispose();
}
