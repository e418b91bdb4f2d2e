namespace HotPath.Protocol.Wire;

/// <summary>Sizes the transport enforces before any handler runs.</summary>
public static class MessageLimits
{
    /// <summary>Most fds one message may carry; more arrive as MSG_CTRUNC and the message is refused.</summary>
    public const int MaxFds = 64;

    /// <summary>Most regions one SET_MEM_TABLE may carry (one fd each). QEMU sends at most 8.</summary>
    public const int MaxSetMemTableRegions = MaxFds;

    /// <summary>The largest payload of any message HotPath accepts (a full SET_MEM_TABLE).</summary>
    public const int MaxPayload = 8 + 32 * MaxSetMemTableRegions;
}
