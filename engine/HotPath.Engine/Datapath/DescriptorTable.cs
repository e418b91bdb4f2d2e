using HotPath.Engine.Memory;
using HotPath.Engine.Stats;

namespace HotPath.Engine.Datapath;

/// <summary>
/// A table of 16-byte descriptors that a chain walker reads entry by entry: the ring's own descriptor table, or an
/// indirect table a descriptor points at. Both ring types lay an entry out as the buffer address (first 8 bytes) and
/// one 8-byte word holding the rest (split: len | flags | next; packed: len | id | flags); only the walkers interpret
/// that word. An indirect table is validated when it is opened (SECURITY.md 12) and translated whole when it lies in
/// one region, or entry by entry when it crosses regions. Lives in the walker's locals. Both chain walkers read
/// descriptors through it.
/// </summary>
internal readonly unsafe struct DescriptorTable
{
    private readonly byte* _host;   // the whole table, or null: translate each entry from _gpa
    private readonly ulong _gpa;

    /// <summary>Entries in the table: bounds the indexes (and the chain length) a walker may use.</summary>
    public readonly uint Entries;

    private DescriptorTable(byte* host, ulong gpa, uint entries)
    {
        _host = host;
        _gpa = gpa;
        Entries = entries;
    }

    /// <summary>The ring's own descriptor table (translated at ring setup, <paramref name="size"/> entries).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DescriptorTable Ring(byte* desc, uint size) => new(desc, 0, size);

    /// <summary>
    /// Validates and opens the indirect table of <paramref name="len"/> bytes at <paramref name="gpa"/> for a ring of
    /// <paramref name="ringSize"/>: a non-empty multiple of 16 bytes, no more entries than the ring, every byte mapped
    /// and no wrap-around of the guest address.
    /// </summary>
    public static DropReason OpenIndirect(GuestMemory mem, ulong gpa, uint len, uint ringSize, out DescriptorTable table)
    {
        table = default;
        if (len == 0 || (len & 15) != 0) return DropReason.IndirectBadLength;
        uint entries = len >> 4;
        if (entries > ringSize) return DropReason.IndirectTooLarge;
        byte* host = mem.GpaToHostExact(gpa, len);
        // A table that crosses regions is read entry by entry, each entry translated on its own.
        if (host == null && gpa > ulong.MaxValue - (len - 1)) return DropReason.IndirectOutsideMemory;
        table = new DescriptorTable(host, gpa, entries);
        return DropReason.None;
    }

    /// <summary>
    /// Reads entry <paramref name="i"/> (below <see cref="Entries"/>) once: the 8-byte word after the address first,
    /// as a volatile load, then the address. False when the entry is not mapped (a table crossing into a hole).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryLoad(GuestMemory mem, uint i, out ulong addr, out ulong meta)
    {
        byte* p = _host != null ? _host + 16 * (nuint)i : mem.GpaToHostExact(_gpa + 16UL * i, 16);
        if (p == null)
        {
            addr = meta = 0;
            return false;
        }
        // SAFETY: i < Entries; the table (or this entry alone) was translated with its full length.
        SplitDescriptor.Read(p, out addr, out meta);
        return true;
    }
}
