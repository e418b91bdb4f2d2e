namespace HotPath.Protocol.Transport;

/// <summary>Why the transport refused bytes before any handler saw them (SECURITY.md cases 1 and 2).</summary>
public enum FramingError
{
    None = 0,
    BadVersion,
    ReplyFlagOnRequest,
    MissingReplyFlag,
    UnknownFlags,
    PayloadTooLarge,
    TooManyFds,
    ClosedMidMessage,
    ReadFailed,
    FdsWithoutData,
}

public static class FramingErrorText
{
    public static string Describe(this FramingError e) => e switch
    {
        FramingError.None => "ok",
        FramingError.BadVersion => "version bits are not 1",
        FramingError.ReplyFlagOnRequest => "REPLY flag set on a request",
        FramingError.MissingReplyFlag => "reply without the REPLY flag",
        FramingError.UnknownFlags => "unknown flag bits in the header",
        FramingError.PayloadTooLarge => "header size is larger than the largest payload",
        FramingError.TooManyFds => "too many fds (MSG_CTRUNC)",
        FramingError.ClosedMidMessage => "peer closed in the middle of a message",
        FramingError.ReadFailed => "recvmsg failed",
        FramingError.FdsWithoutData => "fds arrived without message bytes",
        _ => e.ToString(),
    };
}
