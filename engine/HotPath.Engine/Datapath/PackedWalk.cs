using HotPath.Engine.Stats;

namespace HotPath.Engine.Datapath;

/// <summary>
/// What walking one packed-ring chain produced: how many ring descriptors it takes (<see cref="Descs"/>, what the
/// used entry covers; 0 when the head was not available), the buffer id for its used entry, and as for a split walk
/// the pieces appended to the buffer vector and their summed lengths, or the reason the chain is bad.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct PackedWalk
{
    public readonly ulong Total;
    public readonly int Count;
    public readonly ushort Descs;
    public readonly ushort Id;
    public readonly DropReason Reason;

    public PackedWalk(ulong total, int count, ushort descs, ushort id, DropReason reason)
    {
        Total = total;
        Count = count;
        Descs = descs;
        Id = id;
        Reason = reason;
    }

    /// <summary>True when the head was not available: nothing consumed.</summary>
    public bool NotAvailable => Descs == 0;
}
