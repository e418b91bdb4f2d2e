using HotPath.Engine.Stats;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Outcome of the dequeue slow path for one packed chain: the descriptors it took and the buffer id its used entry
/// carries, and whether it became a packet (<see cref="DropReason.None"/>) or was dropped. 8 bytes, in a register.
/// </summary>
internal readonly struct PackedStep
{
    public readonly ushort Descs;
    public readonly ushort Id;
    public readonly DropReason Reason;

    public PackedStep(ushort descs, ushort id, DropReason reason)
    {
        Descs = descs;
        Id = id;
        Reason = reason;
    }
}
