using HotPath.Engine.Stats;

namespace HotPath.Engine.Datapath;

/// <summary>
/// What a chain walk produced: the pieces appended to the buffer vector (<see cref="Count"/> = vector length after
/// the walk), the summed descriptor lengths, or the reason the chain is bad. 16 bytes, returned in registers.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct WalkResult
{
    public readonly ulong Total;
    public readonly int Count;
    public readonly DropReason Reason;

    public WalkResult(ulong total, int count)
    {
        Total = total;
        Count = count;
        Reason = DropReason.None;
    }

    private WalkResult(DropReason reason)
    {
        Total = 0;
        Count = 0;
        Reason = reason;
    }

    public static WalkResult Bad(DropReason reason) => new(reason);
}
