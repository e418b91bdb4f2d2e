using HotPath.Engine.Async;

namespace HotPath.Engine.Vrings;

/// <summary>The async copy state of an RX vring (<see cref="AsyncQueue"/>), present while a channel is registered.</summary>
public sealed partial class Vring
{
    /// <summary>Set and cleared under the access lock (register, unregister, teardown); read by the datapath after try-taking it.</summary>
    internal AsyncQueue? Async;
}
