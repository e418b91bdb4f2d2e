namespace HotPath.Engine.Datapath;

/// <summary>
/// A position in a packed ring as the datapath carries it in registers: the ring index and the wrap counter kept
/// as the AVAIL/USED flag pattern it implies (an avail cursor holds <see cref="PackedRingLayout.AvailPattern"/>, a
/// used cursor <see cref="PackedRingLayout.UsedPattern"/>), so that crossing the ring's end is one XOR.
/// 8 bytes: passed and returned by value.
/// </summary>
internal struct PackedCursor
{
    public uint Index;
    public uint Pattern;

    public PackedCursor(uint index, uint pattern)
    {
        Index = index;
        Pattern = pattern;
    }

    /// <summary>Moves <paramref name="n"/> (at most <paramref name="size"/>) descriptors on, flipping the wrap counter past the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Advance(uint n, uint size)
    {
        Index += n;
        if (Index >= size)
        {
            Index -= size;
            Pattern ^= PackedRingLayout.OwnershipMask;
        }
    }

    /// <summary>The wrap counter this cursor's pattern stands for (AVAIL set in both the avail and the used pattern of wrap 1).</summary>
    public readonly bool Wrap => (Pattern & VringPackedDesc.FlagAvail) != 0;

    /// <summary>Index | wrap &lt;&lt; 15.</summary>
    public readonly ushort Position => PackedRingLayout.Position(Index, Wrap);
}
