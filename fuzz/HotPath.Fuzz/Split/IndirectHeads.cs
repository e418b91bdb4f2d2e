using HotPath.Engine.Virtio;

namespace HotPath.Fuzz.Split;

/// <summary>The head descriptor of an indirect chain as a split or packed fuzz guest writes it, lies included.</summary>
internal static class IndirectHeads
{
    /// <summary>
    /// Address, length and flags of the head of a table of <paramref name="entries"/> at <paramref name="table"/>
    /// (<paramref name="flags"/> plus INDIRECT), with at most one lie: NEXT set too, length 0, a length that is not a
    /// multiple of 16, or an address outside memory. The flag values are the same in both layouts.
    /// </summary>
    public static (ulong Addr, uint Len, ushort Flags) Head(ulong table, uint entries, ushort flags,
        bool withNext = false, bool lenZero = false, bool lenOdd = false, bool outside = false)
    {
        flags |= VringDesc.FlagIndirect;
        if (withNext) flags |= VringDesc.FlagNext;
        uint len = lenZero ? 0 : lenOdd ? 16 * entries + 8 : 16 * entries;
        return (outside ? 0x10UL : table, len, flags);
    }
}
