using HotPath.Engine.Stats;
using HotPath.Fuzz.Core;
using HotPath.Fuzz.Memory;

namespace HotPath.Fuzz.Split;

/// <summary>A contiguous piece of a guest buffer, inside one region.</summary>
internal readonly record struct Piece(ulong Gpa, uint Len);

/// <summary>What walking one chain gave: its pieces and summed length, or why it is refused.</summary>
internal sealed record ChainWalk(DropReason Reason, ulong Total, IReadOnlyList<Piece> Pieces)
{
    public bool Ok => Reason == DropReason.None;
    public static ChainWalk Bad(DropReason r) => new(r, 0, Array.Empty<Piece>());
}

/// <summary>
/// The reference rules for one split-ring descriptor chain (virtio 1.2 section 2.7.5 plus SECURITY.md cases 11-14),
/// written for clarity: the chain is read from a memory image and checked descriptor by descriptor. The first rule a
/// chain breaks is its reason, in this order:
/// <list type="number">
/// <item>the head index must be inside the descriptor table;</item>
/// <item>an INDIRECT head must not have NEXT, its length must be a non-zero multiple of 16, it may hold no more
/// entries than the ring, and its first entry must be mapped (each 16-byte entry inside one region);</item>
/// <item>then for every descriptor, in chain order: the chain may not be longer than its table; INDIRECT is allowed
/// only on a ring head; the WRITE flag must match the queue; its buffer must be mapped (split at region ends, no
/// wrap-around of 2^64; a zero-length buffer is accepted without looking at its address) and fit the buffer vector;
/// a NEXT must point inside the table, at an entry that is mapped.</item>
/// </list>
/// </summary>
internal static class ChainWalkModel
{
    private const ushort Next = 1, Write = 2, Indirect = 4;

    private readonly record struct Desc(ulong Addr, uint Len, ushort Flags, ushort Next);

    /// <summary>
    /// Walks the chain at <paramref name="head"/> of the table at <paramref name="descTable"/> (ring of
    /// <paramref name="size"/>). <paramref name="vecUsed"/> pieces of a vector of <paramref name="vecCap"/> are taken
    /// already (mergeable RX buffers share one vector per packet).
    /// </summary>
    public static ChainWalk Walk(GuestImage mem, ulong descTable, uint size, ushort head, bool writable, int vecUsed, int vecCap)
    {
        if (head >= size) return ChainWalk.Bad(DropReason.DescIndexOutOfRange);
        Desc d = ReadDesc(mem, descTable + 16UL * head)!.Value;   // the ring's table is always mapped
        ulong table = descTable;
        uint limit = size;
        if ((d.Flags & Indirect) != 0)
        {
            if ((d.Flags & Next) != 0) return ChainWalk.Bad(DropReason.IndirectWithNext);
            if (d.Len == 0 || d.Len % 16 != 0) return ChainWalk.Bad(DropReason.IndirectBadLength);
            if (d.Len / 16 > size) return ChainWalk.Bad(DropReason.IndirectTooLarge);
            if (d.Addr > ulong.MaxValue - (d.Len - 1)) return ChainWalk.Bad(DropReason.IndirectOutsideMemory);
            table = d.Addr;
            limit = d.Len / 16;
            if (!mem.InOneRegion(table, d.Len)) Coverage.Hit("split.indirect-table-crossing-regions");
            Desc? first = ReadDesc(mem, table);
            if (first == null) return ChainWalk.Bad(DropReason.IndirectOutsideMemory);
            d = first.Value;
        }

        var pieces = new List<Piece>();
        ulong total = 0;
        int vec = vecUsed;
        for (uint count = 1; ; count++)
        {
            if (count > limit) return ChainWalk.Bad(DropReason.ChainTooLong);
            if ((d.Flags & Indirect) != 0) return ChainWalk.Bad(DropReason.IndirectNested);
            if (((d.Flags & Write) != 0) != writable) return ChainWalk.Bad(DropReason.WrongDirection);
            total += d.Len;
            DropReason r = AddPieces(mem, d.Addr, d.Len, pieces, ref vec, vecCap);
            if (r != DropReason.None) return ChainWalk.Bad(r);
            if ((d.Flags & Next) == 0) return new ChainWalk(DropReason.None, total, pieces);
            if (d.Next >= limit) return ChainWalk.Bad(DropReason.DescIndexOutOfRange);
            Desc? next = ReadDesc(mem, table + 16UL * d.Next);
            if (next == null) return ChainWalk.Bad(DropReason.IndirectOutsideMemory);
            d = next.Value;
        }
    }

    /// <summary>A descriptor, or null when its 16 bytes are not inside one region.</summary>
    private static Desc? ReadDesc(GuestImage mem, ulong gpa)
    {
        if (!mem.InOneRegion(gpa, 16)) return null;
        return new Desc(mem.U64(gpa), mem.U32(gpa + 8), mem.U16(gpa + 12), mem.U16(gpa + 14));
    }

    /// <summary>The pieces of [gpa, gpa+len): one per region it touches; every byte must be mapped.</summary>
    internal static DropReason AddPieces(GuestImage mem, ulong gpa, uint len, List<Piece> pieces, ref int vec, int vecCap)
    {
        if (len == 0) return DropReason.None;
        if (gpa > ulong.MaxValue - (len - 1)) return DropReason.BufferOutsideMemory;
        ulong left = len;
        while (left != 0)
        {
            ulong room = mem.ContiguousAt(gpa);
            if (room == 0) return DropReason.BufferOutsideMemory;
            if (vec >= vecCap) return DropReason.TooManySegments;
            uint n = (uint)Math.Min(room, left);
            if (n < left) Coverage.Hit("split.buffer-crossing-regions");
            pieces.Add(new Piece(gpa, n));
            vec++;
            gpa += n;
            left -= n;
        }
        return DropReason.None;
    }

    /// <summary>The first <paramref name="count"/> bytes of the pieces, concatenated.</summary>
    public static byte[] Gather(GuestImage mem, IReadOnlyList<Piece> pieces, ulong skip, ulong count)
    {
        var dst = new byte[count];
        ulong at = 0;
        foreach (Piece p in pieces)
        {
            if (at >= count) break;
            if (skip >= p.Len)
            {
                skip -= p.Len;
                continue;
            }
            int n = (int)Math.Min(p.Len - skip, count - at);
            mem.Span(p.Gpa + skip, n).CopyTo(dst.AsSpan((int)at));
            at += (ulong)n;
            skip = 0;
        }
        return dst;
    }

    /// <summary>Writes <paramref name="src"/> across the pieces from their start; returns the ranges written.</summary>
    public static List<(ulong Gpa, ulong Len)> Scatter(ExpectedMemory mem, IReadOnlyList<Piece> pieces, ReadOnlySpan<byte> src)
    {
        var written = new List<(ulong, ulong)>();
        foreach (Piece p in pieces)
        {
            if (src.IsEmpty) break;
            int n = (int)Math.Min(p.Len, (uint)src.Length);
            mem.Write(p.Gpa, src[..n]);
            written.Add((p.Gpa, (ulong)n));
            src = src[n..];
        }
        return written;
    }
}
