namespace HotPath.Engine.Async;

/// <summary>Why an async channel (un)registration, or clearing a queue, was refused.</summary>
public enum AsyncError
{
    None,
    /// <summary>Not a queue of this device, or the vring does not exist.</summary>
    BadQueue,
    /// <summary>A reserved bit of the features word is set.</summary>
    BadFeatures,
    /// <summary>The queue already has a channel.</summary>
    AlreadyRegistered,
    /// <summary>The queue has no channel.</summary>
    NotRegistered,
    /// <summary>A burst or a control-plane change holds the ring (clearing a queue): try again.</summary>
    Busy,
}

public static class AsyncErrorText
{
    public static string Describe(this AsyncError e) => e switch
    {
        AsyncError.None => "no error",
        AsyncError.BadQueue => "not a queue of the device",
        AsyncError.BadFeatures => "reserved bits set in the async features",
        AsyncError.AlreadyRegistered => "the queue already has an async channel",
        AsyncError.NotRegistered => "the queue has no async channel",
        AsyncError.Busy => "the ring is busy (a burst or a control-plane change holds it): try again",
        _ => e.ToString(),
    };
}
