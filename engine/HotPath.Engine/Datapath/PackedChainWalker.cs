using HotPath.Engine.Memory;
using HotPath.Engine.Stats;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Walks one packed-ring chain into host pieces, with every hostile-guest guard (SECURITY.md 11-14, 16, 17). A
/// packed chain is consecutive ring descriptors linked by NEXT (wrapping at the ring's end, where the wrap counter
/// flips); its buffer id is the last descriptor's id. Or it is one descriptor pointing at an indirect table, whose
/// entries are the buffer in order (their NEXT bits carry nothing; the table length delimits it) and whose id is
/// the ring descriptor's.
/// <para>Every descriptor after the head must itself be available for its lap (read with the same acquire
/// discipline as the head): a chain that runs into a descriptor the driver has not made available ends there
/// (<see cref="DropReason.ChainNotAvailable"/>), which also bounds a chain by one lap of the ring. A chain longer
/// than the ring is <see cref="DropReason.ChainTooLong"/>. Indirect tables must be a non-empty multiple of 16 bytes,
/// at most the ring size, mapped, not nested and not combined with NEXT. Every buffer descriptor must have the
/// direction the queue needs; buffers must be mapped (split per region when they cross one).</para>
/// <para>A bad descriptor does not stop the walk: its chain is still followed to its end, so that the used entry
/// covers exactly the descriptors the driver put in it and the next chain starts where the driver put it. The first
/// failure is the reason returned.</para>
/// </summary>
internal static unsafe class PackedChainWalker
{
    private const ushort FlagNext = VringPackedDesc.FlagNext, FlagWrite = VringPackedDesc.FlagWrite,
        FlagIndirect = VringPackedDesc.FlagIndirect;

    /// <summary>
    /// Walks the chain whose head sits at <paramref name="head"/>; the caller already read its len | id | flags word
    /// (<paramref name="meta"/>, acquire) and saw it available. <paramref name="writeFlag"/> is VRING_DESC_F_WRITE
    /// for RX chains and 0 for TX chains. Pieces are appended to <paramref name="vec"/> from <paramref name="nVec"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static PackedWalk Walk(GuestMemory mem, byte* descs, uint size, PackedCursor head, ulong meta, ushort writeFlag,
        BufPiece* vec, int vecCap, int nVec)
    {
        PackedCursor at = head;
        // SAFETY: head.Index < size, inside the translated ring; the address is read after the acquire of meta.
        ulong addr = PackedDescriptor.ReadAddr(PackedDescriptor.At(descs, at.Index));
        ushort flags = PackedDescriptor.Flags(meta);
        ushort id = PackedDescriptor.Id(meta);
        ulong total = 0;
        DropReason bad;

        if ((flags & (FlagIndirect | FlagNext)) == FlagIndirect)
        {
            // The WRITE bit of the descriptor pointing at an indirect table is ignored, as on split rings.
            bad = WalkIndirect(mem, addr, PackedDescriptor.Len(meta), size, writeFlag, vec, vecCap, ref nVec, ref total);
            return new PackedWalk(total, nVec, 1, id, bad);
        }

        bad = DropReason.None;
        uint n = 1;
        while (true)
        {
            if (bad == DropReason.None)
            {
                // INDIRECT is valid only alone in the ring: with NEXT on a head, or anywhere inside a chain, it is not.
                if ((flags & FlagIndirect) != 0) bad = n == 1 ? DropReason.IndirectWithNext : DropReason.IndirectNested;
                else if ((flags & FlagWrite) != writeFlag) bad = DropReason.WrongDirection;
                else
                {
                    uint len = PackedDescriptor.Len(meta);
                    total += len;
                    bad = GuestPieces.Add(mem, addr, len, vec, vecCap, ref nVec);
                }
            }
            if ((flags & FlagNext) == 0) break;
            if (n == size)
            {
                // A whole lap of descriptors, the last still saying NEXT: only a guest rewriting flags gets here.
                if (bad == DropReason.None) bad = DropReason.ChainTooLong;
                break;
            }
            at.Advance(1, size);
            byte* d = PackedDescriptor.At(descs, at.Index);
            // SAFETY: at.Index < size. Acquire, as for the head: the rest of this descriptor is read after its flags.
            meta = PackedDescriptor.ReadMeta(d);
            if (!PackedDescriptor.IsAvail(meta, at.Pattern))
            {
                if (bad == DropReason.None) bad = DropReason.ChainNotAvailable;
                break;
            }
            n++;
            addr = PackedDescriptor.ReadAddr(d);
            flags = PackedDescriptor.Flags(meta);
            id = PackedDescriptor.Id(meta);
        }
        return new PackedWalk(total, nVec, (ushort)n, id, bad);
    }

    /// <summary>The entries of the indirect table at (<paramref name="gpa"/>, <paramref name="len"/>), in order.</summary>
    private static DropReason WalkIndirect(GuestMemory mem, ulong gpa, uint len, uint size, ushort writeFlag,
        BufPiece* vec, int vecCap, ref int nVec, ref ulong total)
    {
        // Descriptor tables are read (an IOTLB write view reads them through its readable view).
        GuestMemory tables = mem.DescriptorTables;
        DropReason r = DescriptorTable.OpenIndirect(tables, gpa, len, size, out DescriptorTable table);
        if (r != DropReason.None) return r;
        for (uint i = 0; i < table.Entries; i++)
        {
            // The table was written before the ring descriptor's flags were released; one read per entry.
            if (!table.TryLoad(tables, i, out ulong addr, out ulong meta)) return DropReason.IndirectOutsideMemory;
            ushort flags = PackedDescriptor.Flags(meta);
            if ((flags & FlagIndirect) != 0) return DropReason.IndirectNested;
            if ((flags & FlagWrite) != writeFlag) return DropReason.WrongDirection;
            uint l = PackedDescriptor.Len(meta);
            total += l;
            r = GuestPieces.Add(mem, addr, l, vec, vecCap, ref nVec);
            if (r != DropReason.None) return r;
        }
        return DropReason.None;
    }
}
