using HotPath.Frontend.Memory;

namespace HotPath.Fuzz.Split;

/// <summary>
/// Where a fuzz guest (split or packed) puts the buffers and indirect tables of a chain, by <see cref="BufKind"/>, and
/// what it writes into TX buffers (the header spec, then random bytes). Buffers and tables come from their
/// <see cref="Arena"/>s, owned by the chain until the device consumed it; hostile kinds get addresses outside memory.
/// </summary>
internal sealed class GuestBufferPlacer(FrontendMemory mem, SplitLayout layout, Arena buffers, Arena tables, int hdr)
{
    /// <summary>Addresses of the chain's buffers, by kind.</summary>
    public ulong[] Place(BufSpec[] bufs, int owner)
    {
        var addrs = new ulong[bufs.Length];
        for (int i = 0; i < addrs.Length; i++)
        {
            BufSpec b = bufs[i];
            addrs[i] = b.Kind switch
            {
                BufKind.Crossing => PlaceCrossing(b, owner) ?? PlaceData(b, owner),
                BufKind.PastEnd => layout.MemoryEnd - b.Len / 2,
                BufKind.Gap => (layout.Contiguous ? layout.MemoryEnd : layout.RegionEnd(0)) + 0x1000 + b.Misalign,
                BufKind.Below => 0x10UL + b.Misalign,
                BufKind.WrapAround => ulong.MaxValue - b.Len / 2,
                BufKind.Null => 0,
                _ => PlaceData(b, owner),
            };
        }
        return addrs;
    }

    /// <summary>Data buffers that found no room in the arena (and were given an unmapped address instead).</summary>
    public int Misplaced { get; private set; }

    private ulong PlaceData(BufSpec b, int owner)
    {
        if (buffers.Alloc(b.Len, b.Misalign, owner) is ulong gpa) return gpa;
        Misplaced++;
        return layout.MemoryEnd + 0x10_0000;   // arena full: an unmapped buffer
    }

    /// <summary>Straddles the first buffer edge whose zone is free: half the buffer on each side.</summary>
    private ulong? PlaceCrossing(BufSpec b, int owner)
    {
        ulong before = Math.Max(b.Len / 2, 1) + (b.Misalign & 15u);
        foreach (ulong edge in layout.BufferEdges)
        {
            ulong gpa = edge - Math.Min(before, SplitLayout.Zone);
            if (buffers.TryReserve(gpa, b.Len, owner)) return gpa;
        }
        return null;
    }

    /// <summary>An indirect table of <paramref name="bytes"/>: across the table boundary for a crossing form.</summary>
    public ulong PlaceTable(ChainForm form, ulong bytes, int owner)
    {
        if (form == ChainForm.IndirectCrossing && layout.TableBoundary is ulong edge)
        {
            ulong gpa = edge - 16UL * ((bytes / 16) / 2);   // entries 16-aligned: none straddles the edge
            if (tables.TryReserve(gpa, bytes, owner)) return gpa;
        }
        return tables.Alloc(bytes, 0, owner) ?? layout.MemoryEnd + 0x20_0000;
    }

    /// <summary>A TX chain's bytes: the header spec, then a pattern, across the chain's buffers in order.</summary>
    public void FillTx(BufSpec[] bufs, HeaderSpec header, ulong[] addrs, int seed)
    {
        long total = bufs.Sum(b => (long)b.Len);
        var bytes = new byte[total];
        var rnd = new Random(seed);
        rnd.NextBytes(bytes);
        if (total >= hdr)
        {
            bytes.AsSpan(0, hdr).Clear();
            bytes[0] = header.Flags;
            bytes[1] = header.GsoType;
            BitConverter.TryWriteBytes(bytes.AsSpan(4), header.GsoSize);
            BitConverter.TryWriteBytes(bytes.AsSpan(6), header.CsumStart);
            BitConverter.TryWriteBytes(bytes.AsSpan(8), header.CsumOffset);
        }
        long at = 0;
        for (int i = 0; i < addrs.Length; i++)
        {
            uint len = bufs[i].Len;
            // Only buffers the arena placed are filled: an address outside it may be the ring or a table.
            if (bufs[i].Kind is BufKind.Data or BufKind.Crossing) GuestWrites.Write(mem, addrs[i], bytes.AsSpan((int)at, (int)len));
            at += len;
        }
    }
}
