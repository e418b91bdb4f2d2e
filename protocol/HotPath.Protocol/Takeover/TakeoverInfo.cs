namespace HotPath.Protocol.Takeover;

/// <summary>What a driver's start had to do with a takeover (hp_vhost_takeover_info.state, same values).</summary>
public enum TakeoverState : uint
{
    /// <summary>Started normally; no takeover was asked for, or no process served one.</summary>
    None = 0,
    /// <summary>This process took the devices over from another one.</summary>
    Taken = 1,
    /// <summary>This process handed its devices over to another one.</summary>
    Handed = 2,
    /// <summary>A takeover was tried, the old process died before it had sent everything: started normally.</summary>
    Fallback = 3,
}

/// <summary>The last takeover of a driver, on either side.</summary>
/// <param name="Devices">Devices moved.</param>
/// <param name="PauseNs">New side: from the old process's quiesce to this one's resume (CLOCK_MONOTONIC).</param>
/// <param name="PeerPid">The other process.</param>
public readonly record struct TakeoverInfo(TakeoverState State, uint Devices, long PauseNs, int PeerPid);
