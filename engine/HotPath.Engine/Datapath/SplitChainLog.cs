using HotPath.Engine.Logging;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Dirty logging of what an enqueue wrote into one split-ring chain: a used entry (id, len) says the device wrote the
/// first len bytes of the chain's buffers, in chain order (virtio 2.7.8), header included. Those guest physical
/// ranges go into the burst's <see cref="LogCache"/>. Logging from the used entry, not from the copies, keeps the
/// burst's copy paths (inline, deferred, slow, mergeable) free of any logging code.
/// <para>The descriptors are read a second time here, after the copies and before the used index is published.
/// Until then a driver must not touch a chain it made available, so a well-behaved guest shows the same chain. A
/// guest that rewrites it meanwhile only changes which of its own pages are marked; every read is bounded like the
/// walker's (head and next inside their table, at most a table's worth of hops, indirect only at the head), and the
/// log bounds every page it is given.</para>
/// </summary>
internal static unsafe class SplitChainLog
{
    /// <summary>Caches the pages of the first <paramref name="written"/> bytes of the chain at <paramref name="head"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Mark(ref LogCache cache, GuestMemory mem, byte* descs, uint size, uint head, uint written)
    {
        if (written == 0 || head >= size) return;
        // SAFETY: head < size: the descriptor lies inside the translated table.
        SplitDescriptor.Read(descs + ((nuint)head << 4), out ulong addr, out ulong meta);
        // One descriptor holding the whole write: the common case, inline.
        if ((SplitDescriptor.Flags(meta) & (VringDesc.FlagNext | VringDesc.FlagIndirect)) == 0)
        {
            cache.MarkRange(addr, Math.Min(SplitDescriptor.Len(meta), written));
            return;
        }
        MarkChain(ref cache, mem, descs, size, addr, meta, written);
    }

    /// <summary>A chain of several descriptors, or an indirect table, whose head was read as (addr, meta).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void MarkChain(ref LogCache cache, GuestMemory mem, byte* descs, uint size, ulong addr, ulong meta, uint written)
    {
        DescriptorTable table = DescriptorTable.Ring(descs, size);
        if ((SplitDescriptor.Flags(meta) & VringDesc.FlagIndirect) != 0)
        {
            // A table the walker refused had nothing written into it.
            if (DescriptorTable.OpenIndirect(mem, addr, SplitDescriptor.Len(meta), size, out table) != DropReason.None) return;
            if (!table.TryLoad(mem, 0, out addr, out meta)) return;
        }
        ulong left = written;
        for (uint hops = 1; ; hops++)
        {
            ushort flags = SplitDescriptor.Flags(meta);
            if ((flags & VringDesc.FlagIndirect) != 0) return;
            ulong n = Math.Min(SplitDescriptor.Len(meta), left);
            cache.MarkRange(addr, n);
            left -= n;
            if (left == 0 || (flags & VringDesc.FlagNext) == 0 || hops >= table.Entries) return;
            ushort next = SplitDescriptor.Next(meta);
            if (next >= table.Entries || !table.TryLoad(mem, next, out addr, out meta)) return;
        }
    }
}
