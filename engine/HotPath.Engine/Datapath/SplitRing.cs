using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>Pieces shared by the split enqueue and dequeue bursts: avail-index check and the chain fast path.</summary>
internal static unsafe class SplitRing
{
    private const ushort DirectionAndShape = VringDesc.FlagNext | VringDesc.FlagWrite | VringDesc.FlagIndirect;

    /// <summary>
    /// Start of a burst: reads the guest's avail index and returns how many chains it has made available since
    /// <paramref name="lastAvail"/> (0 when none, or when the index jumped by more than the ring size: the ring is
    /// then marked broken and the event counted). Also keeps guest kicks suppressed for the current features.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Begin(Vring vq, ulong features, out ushort availIdx, out ushort lastAvail)
    {
        lastAvail = vq.LastAvailIdx;
        // Acquire: the avail ring entries and the descriptors behind them, which the guest wrote before it published
        // this index, are read only after this load.
        availIdx = vq.ReadAvailIdx();
        if (vq.KickSuppressionFeatures != features) vq.ApplySplitKickSuppression(features);
        uint pending = (ushort)(availIdx - lastAvail);
        if (pending > vq.Size)
        {
            Break(vq);
            return 0;
        }
        // The avail entries are read next: start pulling their cache line in.
        if (pending != 0 && Sse.IsSupported) Sse.Prefetch0(vq.Avail + SplitRingLayout.AvailRingOffset + 2 * (lastAvail & (vq.Size - 1)));
        return pending;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Break(Vring vq)
    {
        vq.BrokenReason = VringError.AvailIndexJump;
        vq.Stats.Drop(DropReason.RingBroken);
    }

    /// <summary>
    /// Walks the chain at <paramref name="head"/> into <paramref name="vec"/> from <paramref name="nVec"/> on. The
    /// common shape (one descriptor of the right direction, no NEXT, no INDIRECT, inside one region) is handled
    /// here; everything else goes to <see cref="SplitChainWalker"/>, with the head already loaded (read once).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Walk(GuestMemory mem, byte* descs, uint size, ushort head, ushort writeFlag,
        BufPiece* vec, int vecCap, ref int nVec, out ulong total)
    {
        if (head >= size)
        {
            total = 0;
            return DropReason.DescIndexOutOfRange;
        }
        // SAFETY: head < size, so the 16 bytes lie inside the translated descriptor table.
        Vector128<ulong> d = SplitDescriptor.Load(descs + ((nuint)head << 4));
        ulong meta = SplitDescriptor.Meta(d);
        uint len = SplitDescriptor.Len(meta);
        if ((SplitDescriptor.Flags(meta) & DirectionAndShape) == writeFlag && len != 0 && nVec < vecCap)
        {
            ulong got = len;
            byte* h = mem.GpaToHost(SplitDescriptor.Addr(d), ref got);
            if (h != null && got == len)
            {
                // SAFETY: nVec < vecCap; [h, h+len) is inside one mapped region.
                vec[nVec++] = new BufPiece(h, len);
                total = len;
                return DropReason.None;
            }
        }
        return SplitChainWalker.Walk(mem, descs, size, d, writeFlag, vec, vecCap, ref nVec, out total);
    }
}
