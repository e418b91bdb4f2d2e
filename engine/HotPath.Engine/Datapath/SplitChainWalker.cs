using HotPath.Engine.Memory;
using HotPath.Engine.Stats;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Walks one split-ring descriptor chain into host pieces, with every hostile-guest guard (SECURITY.md 11-14, 16):
/// each descriptor is read once into locals and validated before use; <c>next</c> must be inside the table; a
/// chain holds at most as many descriptors as its table (the ring, or the indirect table), which also makes loops
/// impossible; indirect tables must be a non-empty multiple of 16 bytes, no more entries than the ring, inside
/// memory, not nested and not combined with NEXT; every descriptor must have the direction the queue needs; and
/// buffers must be mapped (split per region when they cross one). The first failure is returned as the reason.
/// </summary>
internal static unsafe class SplitChainWalker
{
    private const ushort FlagNext = VringDesc.FlagNext, FlagWrite = VringDesc.FlagWrite, FlagIndirect = VringDesc.FlagIndirect;

    /// <summary>
    /// Walks the chain whose head descriptor the caller already read (<paramref name="addr"/>,
    /// <paramref name="meta"/> = len | flags &lt;&lt; 32 | next &lt;&lt; 48; not read again here).
    /// <paramref name="writeFlag"/> is <c>VRING_DESC_F_WRITE</c> for RX chains and 0 for TX chains: every buffer
    /// descriptor must carry exactly that. The pieces are appended to <paramref name="vec"/> from
    /// <paramref name="nVec"/> on.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static WalkResult Walk(GuestMemory mem, byte* desc, uint size, ulong addr, ulong meta, ushort writeFlag,
        BufPiece* vec, int vecCap, int nVec)
    {
        ulong total = 0;
        ushort flags = SplitDescriptor.Flags(meta);
        // The table being walked: the ring's, or the indirect one. Its entry count bounds next and the chain length.
        DescriptorTable table = DescriptorTable.Ring(desc, size);
        GuestMemory tables = mem;

        if ((flags & FlagIndirect) != 0)
        {
            // The WRITE bit of the descriptor pointing at an indirect table is ignored (virtio 2.7.5.3.2).
            if ((flags & FlagNext) != 0) return WalkResult.Bad(DropReason.IndirectWithNext);
            // Descriptor tables are read (an IOTLB write view reads them through its readable view).
            tables = mem.DescriptorTables;
            DropReason bad = DescriptorTable.OpenIndirect(tables, addr, SplitDescriptor.Len(meta), size, out table);
            if (bad != DropReason.None) return WalkResult.Bad(bad);
            if (!table.TryLoad(tables, 0, out addr, out meta)) return WalkResult.Bad(DropReason.IndirectOutsideMemory);
            flags = SplitDescriptor.Flags(meta);
        }

        uint count = 0;
        while (true)
        {
            if (++count > table.Entries) return WalkResult.Bad(DropReason.ChainTooLong);
            // INDIRECT is only valid on the head of a chain in the ring itself.
            if ((flags & FlagIndirect) != 0) return WalkResult.Bad(DropReason.IndirectNested);
            if ((flags & FlagWrite) != writeFlag) return WalkResult.Bad(DropReason.WrongDirection);
            uint len = SplitDescriptor.Len(meta);
            total += len;
            DropReason r = GuestPieces.Add(mem, addr, len, vec, vecCap, ref nVec);
            if (r != DropReason.None) return WalkResult.Bad(r);
            if ((flags & FlagNext) == 0) return new WalkResult(total, nVec);
            ushort next = SplitDescriptor.Next(meta);
            if (next >= table.Entries) return WalkResult.Bad(DropReason.DescIndexOutOfRange);
            if (!table.TryLoad(tables, next, out addr, out meta)) return WalkResult.Bad(DropReason.IndirectOutsideMemory);
            flags = SplitDescriptor.Flags(meta);
        }
    }
}
