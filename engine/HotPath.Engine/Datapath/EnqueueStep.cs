namespace HotPath.Engine.Datapath;

/// <summary>
/// Outcome of the enqueue slow path for one packet: the burst's new shadow count and avail position, and whether the
/// packet was delivered (false: the burst stops, the packet stays with the caller). 8 bytes, returned in a register.
/// </summary>
internal readonly struct EnqueueStep
{
    public readonly uint NShadow;
    public readonly ushort LastAvail;
    public readonly bool Delivered;

    public EnqueueStep(uint nShadow, ushort lastAvail, bool delivered)
    {
        NShadow = nShadow;
        LastAvail = lastAvail;
        Delivered = delivered;
    }
}
