namespace HotPath.Engine.Datapath;

/// <summary>
/// Outcome of the packed enqueue slow path for one packet: the burst's cursors and shadow count after it, and
/// whether the packet was delivered (false: the burst stops, the packet stays with the caller).
/// </summary>
internal readonly struct PackedEnqueueStep
{
    public readonly PackedCursor Avail;
    public readonly PackedCursor Used;
    public readonly uint NShadow;
    public readonly bool Delivered;

    public PackedEnqueueStep(PackedCursor avail, PackedCursor used, uint nShadow, bool delivered)
    {
        Avail = avail;
        Used = used;
        NShadow = nShadow;
        Delivered = delivered;
    }
}
