namespace HotPath.Engine.Async;

/// <summary>
/// One submitted packet of an async queue, from submit until the application polls its mbuf back (the mbuf itself is
/// in the queue's array beside the slots): its segments in the queue's segment arena, how far its used entries reach
/// in the pending used ring, and where its copies are.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct AsyncSlot
{
    /// <summary>Not committed yet (the packet is being written).</summary>
    public const byte Writing = 0;
    /// <summary>Out-of-order channels (in-order ones use <see cref="Ticket"/>): the channel holds the copies (from the commit on: a packet the channel refuses is copied by the CPU
    /// and done before anything looks at it).</summary>
    public const byte InChannel = 1;
    /// <summary>Every byte written (by the channel or the CPU): the used entries may go once earlier packets' did.</summary>
    public const byte Done = 2;

    /// <summary>Pending-used position (free-running) just after this packet's entries.</summary>
    public uint UsedEnd;
    /// <summary>In-order channels: the channel's count of packets handed over, up to and including this one's (a
    /// packet the CPU wrote: those before it). The packet is done once the channel reported that many complete.</summary>
    public uint Ticket;
    /// <summary>First segment (arena index, masked) and count.</summary>
    public uint SegStart, SegCount;
    /// <summary>Arena position (free-running) after this packet's segments: the arena is freed up to here at publication.</summary>
    public uint SegEnd;
    public byte State;
}
