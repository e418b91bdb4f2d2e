using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Control;

/// <summary>How many fds a request may carry.</summary>
internal enum FdRule
{
    /// <summary>No fds.</summary>
    None,
    /// <summary>Exactly one fd.</summary>
    One,
    /// <summary>Zero or one fd (REM_MEM_REG: a passed fd is closed unused, as the spec allows).</summary>
    ZeroOrOne,
    /// <summary>SET_VRING_KICK/CALL/ERR: one fd unless the NOFD bit (8) of the u64 payload is set, then none.</summary>
    UnlessNoFdFlag,
    /// <summary>SET_MEM_TABLE: exactly one fd per region.</summary>
    OnePerRegion,
}

/// <summary>What a request needs negotiated before it is accepted.</summary>
internal enum Needs
{
    Nothing,
    /// <summary>A protocol feature bit (see <see cref="MessageEntry.ProtocolFeature"/>) negotiated by SET_PROTOCOL_FEATURES.</summary>
    ProtocolFeature,
    /// <summary>VHOST_USER_F_PROTOCOL_FEATURES offered by the backend (GET/SET_PROTOCOL_FEATURES).</summary>
    ProtocolFeaturesOffered,
}

internal enum HandlerOutcome { Ok, Reply, Error }

/// <summary>What a handler returns: done, done with a reply already prepared, or refused with a reason.</summary>
internal readonly struct HandlerResult
{
    public HandlerOutcome Outcome { get; init; }
    public ControlError Error { get; init; }
    public string? Detail { get; init; }

    public static HandlerResult Ok => new() { Outcome = HandlerOutcome.Ok };
    public static HandlerResult Reply => new() { Outcome = HandlerOutcome.Reply };
    public static HandlerResult Fail(ControlError e, string? detail = null) =>
        new() { Outcome = HandlerOutcome.Error, Error = e, Detail = detail };
}

internal delegate HandlerResult MessageHandler(VhostSession session, MessageReader message);

/// <summary>
/// One row of the handler table: the request, its name, its payload size rule, its fd rule, what it needs
/// negotiated, which locks it takes, and its handler. The dispatcher checks everything before the handler runs.
/// </summary>
internal sealed class MessageEntry
{
    public required FrontendRequest Request { get; init; }
    public required string Name { get; init; }
    /// <summary>Exact payload size, or -1 when <see cref="SizeCheck"/> decides.</summary>
    public int PayloadSize { get; init; } = -1;
    /// <summary>Custom size rule for variable payloads (SET_MEM_TABLE, GET/SET_CONFIG).</summary>
    public Func<MessageReader, bool>? SizeCheck { get; init; }
    public FdRule Fds { get; init; } = FdRule.None;
    public Needs Needs { get; init; } = Needs.Nothing;
    public int ProtocolFeature { get; init; } = -1;
    /// <summary>Null for requests HotPath knows but does not implement: they are refused.</summary>
    public MessageHandler? Handler { get; init; }

    /// <summary>Checks size and fd count against the rules; returns the refusal reason or None.</summary>
    public (ControlError, string?) CheckShape(MessageReader m)
    {
        int size = m.PayloadLength;
        if (PayloadSize >= 0 && size != PayloadSize)
            return (ControlError.BadPayloadSize, $"{Name}: payload is {size} bytes, expected {PayloadSize}");
        if (SizeCheck != null && !SizeCheck(m))
            return (ControlError.BadPayloadSize, $"{Name}: payload of {size} bytes does not fit the message");
        int fds = m.FdCount;
        int want = Fds switch
        {
            FdRule.None => 0,
            FdRule.One => 1,
            FdRule.ZeroOrOne => Math.Min(fds, 1),
            FdRule.UnlessNoFdFlag => (m.PayloadAs<ulong>() & VringFdPayload.NoFdFlag) != 0 ? 0 : 1,
            FdRule.OnePerRegion => (int)m.PayloadAs<MemoryTableHeader>().NRegions,
            _ => 0,
        };
        if (fds != want)
            return (ControlError.BadFdCount, $"{Name}: carries {fds} fds, expected {want}");
        return (ControlError.None, null);
    }
}
