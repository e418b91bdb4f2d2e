using HotPath.Engine.Buffers;

namespace HotPath.Engine.Async;

/// <summary>
/// One submitted packet of an async queue, from submit until the application polls its mbuf back: its segments in
/// the queue's segment arena, how far its used entries reach in the pending used ring, and where its copies are.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct AsyncSlot
{
    /// <summary>Not committed yet (the packet is being written).</summary>
    public const byte Writing = 0;
    /// <summary>The channel holds the copies (from the commit on: a packet the channel refuses is copied by the CPU
    /// and done before anything looks at it).</summary>
    public const byte InChannel = 1;
    /// <summary>Every byte written (by the channel or the CPU): the used entries may go once earlier packets' did.</summary>
    public const byte Done = 2;

    public Mbuf* M;
    /// <summary>Pending-used position (free-running) just after this packet's entries.</summary>
    public uint UsedEnd;
    /// <summary>First segment (arena index, masked) and count.</summary>
    public uint SegStart, SegCount;
    /// <summary>Arena position (free-running) after this packet's segments: the arena is freed up to here at publication.</summary>
    public uint SegEnd;
    public byte State;
}
