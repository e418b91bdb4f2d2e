using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;

namespace HotPath.Fuzz.Split;

/// <summary>
/// What the split and the packed fuzz guest drivers share: guest memory, where chains' buffers and indirect tables go
/// (the arenas both rings of a case share), the direction the ring carries, and the owner of what a posted chain
/// holds until the device has consumed it. The ring layout itself is written through the frontend's ring writers.
/// </summary>
internal abstract class FuzzGuestRing
{
    // NEXT, WRITE and INDIRECT have the same values in the split and the packed layout (virtio 1.2, 2.7.5 and 2.8.10).
    protected const ushort Next = VringDesc.FlagNext, Write = VringDesc.FlagWrite, Indirect = VringDesc.FlagIndirect;

    private static int s_owner;
    protected readonly FrontendMemory Mem;
    protected readonly bool Tx;
    private readonly Arena _buffers, _tables;
    private readonly GuestBufferPlacer _placer;

    protected FuzzGuestRing(FrontendMemory mem, SplitLayout layout, Arena buffers, Arena tables, bool tx, int hdr)
    {
        Mem = mem;
        Tx = tx;
        _buffers = buffers;
        _tables = tables;
        _placer = new GuestBufferPlacer(mem, layout, buffers, tables, hdr);
    }

    /// <summary>Data buffers that found no room in guest memory (posted with an unmapped address instead).</summary>
    public int Misplaced => _placer.Misplaced;

    /// <summary>A new owner for what one chain holds.</summary>
    protected static int NewOwner() => Interlocked.Increment(ref s_owner);

    /// <summary>Places a chain's buffers for <paramref name="owner"/> (on TX filled with the header and packet bytes
    /// from <paramref name="seed"/>) and returns their addresses.</summary>
    protected ulong[] PlaceBuffers(BufSpec[] bufs, HeaderSpec header, int owner, int seed)
    {
        ulong[] addrs = _placer.Place(bufs, owner);
        if (Tx) _placer.FillTx(bufs, header, addrs, seed);
        return addrs;
    }

    /// <summary>
    /// Places the zeroed indirect table of a chain of <paramref name="k"/> descriptors for <paramref name="owner"/> and
    /// returns its address; <paramref name="entries"/> is what its head will claim: <paramref name="k"/>, or one more
    /// than the ring of <paramref name="ringSize"/> holds when <paramref name="tooLarge"/> (the table has room for it).
    /// </summary>
    protected ulong PlaceIndirectTable(ChainForm form, int k, uint ringSize, bool tooLarge, int owner, out uint entries)
    {
        entries = tooLarge ? ringSize + 1 : (uint)k;
        ulong bytes = 16UL * Math.Max(entries, (uint)k) + 16;
        ulong table = _placer.PlaceTable(form, bytes, owner);
        GuestWrites.Write(Mem, table, new byte[bytes]);
        return table;
    }

    /// <summary>Writes indirect table entry <paramref name="i"/> (16 bytes that may straddle regions; the last two
    /// fields are the layout's: split flags and next, packed id and flags).</summary>
    protected void WriteTableEntry(ulong table, int i, ulong addr, uint len, ushort field12, ushort field14) =>
        GuestWrites.WriteDesc(Mem, table + 16UL * (uint)i, addr, len, field12, field14);

    /// <summary>Gives back the buffers and table of a chain the device consumed.</summary>
    protected void Release(int owner)
    {
        _buffers.Release(owner);
        _tables.Release(owner);
    }
}
