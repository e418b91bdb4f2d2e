using System.Runtime.Intrinsics;
using HotPath.Engine.Buffers;
using HotPath.Engine.Memory;

namespace HotPath.Engine.Datapath;

/// <summary>
/// The batch-of-4 path: four descriptors of one cache line, four packets, taken together or not at all. The four
/// len | id | flags words are read once each (<see cref="PackedDescriptor.ReadMeta"/>) and every precondition of the
/// four is checked before the batch commits anything; any miss sends the caller to the one-chain path, which takes
/// the descriptors one by one (and drops only a bad one). With AVX2 the four words are one <c>Vector256</c> and flags
/// and lengths are checked in a few vector operations; otherwise the same tests run on scalars.
/// <para><see cref="RxBatches"/> and <see cref="TxBatches"/> are out of line on purpose: inlined into the burst loop,
/// the four packets' temporaries spilled most of the loop's state to the stack (about 570 instructions per batch of
/// 64 B enqueue). They run the batches back to back, copy at once (the four packets are known good, nothing is deferred) and store the used entries in
/// place, flags included, except the burst's first (<see cref="PackedUsedRing"/>): the caller runs them only while
/// the used slots are the avail slots (<see cref="PackedUsedRing.DirectFrom"/>).</para>
/// </summary>
internal static unsafe class PackedBatch
{
    /// <summary>Ownership and shape bits of the flags, where they sit in the meta word.</summary>
    public const ulong FlagMask =
        (ulong)(PackedRingLayout.OwnershipMask | VringPackedDesc.FlagNext | VringPackedDesc.FlagWrite | VringPackedDesc.FlagIndirect) << 48;

    /// <summary>
    /// The flags every descriptor of a batch must have, as a meta word: available for <paramref name="availPattern"/>'s
    /// lap, no NEXT, no INDIRECT, and WRITE exactly when <paramref name="writeFlag"/> says (RX) or not (TX).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Want(uint availPattern, ushort writeFlag) => (ulong)(availPattern | writeFlag) << 48;

    /// <summary>
    /// Dequeue: all four available single descriptors of the right direction, each holding more than the
    /// <paramref name="hdr"/>-byte net header and a packet that fits <paramref name="room"/> bytes of one mbuf
    /// (hdr &lt; len &lt;= hdr + room).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TxFits(ulong m0, ulong m1, ulong m2, ulong m3, ulong want, uint hdr, uint room)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ulong> v = Vector256.Create(m0, m1, m2, m3);
            // Each lane of the equality mask is all ones or all zeros: its complement's top bit says "flags wrong".
            Vector256<ulong> flagsBad = ~Vector256.Equals(v & Vector256.Create(FlagMask), Vector256.Create(want));
            // len - (hdr + 1) must lie in [0, room): both it and room - 1 - it non-negative (lengths are 32-bit).
            Vector256<long> t = (v & Vector256.Create(0xFFFF_FFFFUL)).AsInt64() - Vector256.Create((long)hdr + 1);
            Vector256<long> u = Vector256.Create((long)room - 1) - t;
            return (flagsBad | (t | u).AsUInt64()).ExtractMostSignificantBits() == 0;
        }
        return (((m0 ^ want) | (m1 ^ want) | (m2 ^ want) | (m3 ^ want)) & FlagMask) == 0 &
               (uint)m0 - hdr - 1 < room & (uint)m1 - hdr - 1 < room & (uint)m2 - hdr - 1 < room & (uint)m3 - hdr - 1 < room;
    }

    /// <summary>
    /// Enqueue: all four available single writable descriptors, each holding at least its packet's
    /// <paramref name="need0"/>..<paramref name="need3"/> bytes (header + data).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool RxFits(ulong m0, ulong m1, ulong m2, ulong m3, ulong want, uint need0, uint need1, uint need2, uint need3)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ulong> v = Vector256.Create(m0, m1, m2, m3);
            Vector256<ulong> flagsBad = ~Vector256.Equals(v & Vector256.Create(FlagMask), Vector256.Create(want));
            // len - need >= 0 for each (both 32-bit values in 64-bit lanes: the difference's sign says it).
            Vector256<long> spare = (v & Vector256.Create(0xFFFF_FFFFUL)).AsInt64() - Vector256.Create((long)need0, need1, need2, need3);
            return (flagsBad | spare.AsUInt64()).ExtractMostSignificantBits() == 0;
        }
        return (((m0 ^ want) | (m1 ^ want) | (m2 ^ want) | (m3 ^ want)) & FlagMask) == 0 &
               (uint)m0 >= need0 & (uint)m1 >= need1 & (uint)m2 >= need2 & (uint)m3 >= need3;
    }

    /// <summary>
    /// Enqueue by batches of four from the cache line at <paramref name="d"/> on, at most <paramref name="limit"/>
    /// packets (a multiple of 4 that keeps every line inside the ring, before its end): returns how many it placed,
    /// stopping at the first batch that does not qualify (<see cref="RxTake"/>). The used flags of the first entry
    /// are left to the caller when <paramref name="holdFirst"/> (the burst's first entry).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static uint RxBatches(byte* d, Mbuf** pkts, uint limit, ulong want, uint hdr, uint usedFlags, bool holdFirst,
        GuestMemory mem, RegionCache region)
    {
        uint k = 0;
        // SAFETY: k + 4 <= limit keeps the line at d + 16k inside the ring (the caller's limit).
        for (; k < limit; k += PackedRing.BatchSize)
            if (!RxTake(d + ((nuint)k << 4), pkts + k, want, hdr, usedFlags, holdFirst & k == 0, mem, ref region)) break;
        return k;
    }

    /// <summary>
    /// Dequeue by batches of four, as <see cref="RxBatches"/>: returns how many descriptors it took into
    /// <paramref name="pkts"/>, stopping at the first batch that does not qualify (<see cref="TxTake"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static uint TxBatches(byte* d, Mbuf** pkts, uint limit, ulong want, uint hdr, uint room, bool offload,
        uint usedFlags, bool holdFirst, GuestMemory mem, RegionCache region)
    {
        uint k = 0;
        // SAFETY: as in RxBatches.
        for (; k < limit; k += PackedRing.BatchSize)
            if (!TxTake(d + ((nuint)k << 4), pkts + k, want, hdr, room, offload, usedFlags, holdFirst & k == 0, mem, ref region)) break;
        return k;
    }

    /// <summary>
    /// Enqueue of <paramref name="pkts"/>[0..4) into the four descriptors at <paramref name="d"/> (a cache line inside
    /// the ring): false, with nothing written, unless all four mbufs are one plain segment and all four descriptors are
    /// available single writable buffers (<paramref name="want"/>) large enough and inside <paramref name="region"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool RxTake(byte* d, Mbuf** pkts, ulong want, uint hdr, uint usedFlags, bool holdFirst, GuestMemory mem, ref RegionCache region)
    {
        Mbuf* b0 = pkts[0], b1 = pkts[1], b2 = pkts[2], b3 = pkts[3];
        if ((NotPlain(b0) | NotPlain(b1) | NotPlain(b2) | NotPlain(b3)) != 0) return false;
        // SAFETY: d + 64 is inside the translated ring (the caller's CanBatch). Each meta word is one acquire load (the
        // flags that say "available" and the len/id they publish); the addresses are read after them, each once.
        ulong m0 = PackedDescriptor.ReadMeta(d), m1 = PackedDescriptor.ReadMeta(d + 16),
            m2 = PackedDescriptor.ReadMeta(d + 32), m3 = PackedDescriptor.ReadMeta(d + 48);
        uint n0 = b0->PktLen + hdr, n1 = b1->PktLen + hdr, n2 = b2->PktLen + hdr, n3 = b3->PktLen + hdr;
        if (!RxFits(m0, m1, m2, m3, want, n0, n1, n2, n3)) return false;
        // Whole buffers translated: each lies in the region (pktLen + hdr <= len, checked above).
        byte* t0 = Translate(ref region, mem, PackedDescriptor.ReadAddr(d), PackedDescriptor.Len(m0));
        byte* t1 = Translate(ref region, mem, PackedDescriptor.ReadAddr(d + 16), PackedDescriptor.Len(m1));
        byte* t2 = Translate(ref region, mem, PackedDescriptor.ReadAddr(d + 32), PackedDescriptor.Len(m2));
        byte* t3 = Translate(ref region, mem, PackedDescriptor.ReadAddr(d + 48), PackedDescriptor.Len(m3));
        if (t0 == null || t1 == null || t2 == null || t3 == null) return false;
        // SAFETY (all four): [t, t+len) is writable guest memory in one region and len >= pktLen + hdr.
        Put(b0, t0, hdr, n0);
        Put(b1, t1, hdr, n1);
        Put(b2, t2, hdr, n2);
        Put(b3, t3, hdr, n3);
        Used(d, PackedDescriptor.Id(m0), PackedDescriptor.Id(m1), PackedDescriptor.Id(m2), PackedDescriptor.Id(m3),
            n0, n1, n2, n3, usedFlags, holdFirst);
        return true;
    }

    /// <summary>
    /// Dequeue of the four descriptors at <paramref name="d"/> (a cache line inside the ring) into the fresh mbufs
    /// <paramref name="pkts"/>[0..4): false, with nothing written, unless all four are available single readable
    /// buffers (<paramref name="want"/>) inside <paramref name="region"/> whose packets fit <paramref name="room"/>
    /// bytes (<see cref="TxFits"/>) and, with <paramref name="offload"/>, whose headers ask for nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TxTake(byte* d, Mbuf** pkts, ulong want, uint hdr, uint room, bool offload, uint usedFlags,
        bool holdFirst, GuestMemory mem, ref RegionCache region)
    {
        // SAFETY: as in RxTake.
        ulong m0 = PackedDescriptor.ReadMeta(d), m1 = PackedDescriptor.ReadMeta(d + 16),
            m2 = PackedDescriptor.ReadMeta(d + 32), m3 = PackedDescriptor.ReadMeta(d + 48);
        if (!TxFits(m0, m1, m2, m3, want, hdr, room)) return false;
        uint l0 = PackedDescriptor.Len(m0), l1 = PackedDescriptor.Len(m1), l2 = PackedDescriptor.Len(m2), l3 = PackedDescriptor.Len(m3);
        byte* s0 = Translate(ref region, mem, PackedDescriptor.ReadAddr(d), l0);
        byte* s1 = Translate(ref region, mem, PackedDescriptor.ReadAddr(d + 16), l1);
        byte* s2 = Translate(ref region, mem, PackedDescriptor.ReadAddr(d + 32), l2);
        byte* s3 = Translate(ref region, mem, PackedDescriptor.ReadAddr(d + 48), l3);
        // SAFETY: each non-null source holds its len > hdr >= 2 bytes; a header asking for offloads (flags or
        // gso_type non-zero) goes the full way.
        if (s0 == null || s1 == null || s2 == null || s3 == null ||
            (offload && (*(ushort*)s0 | *(ushort*)s1 | *(ushort*)s2 | *(ushort*)s3) != 0)) return false;
        // SAFETY (all four): len - hdr <= the mbuf's room (TxFits).
        Take(pkts[0], s0 + hdr, l0 - hdr);
        Take(pkts[1], s1 + hdr, l1 - hdr);
        Take(pkts[2], s2 + hdr, l2 - hdr);
        Take(pkts[3], s3 + hdr, l3 - hdr);
        Used(d, PackedDescriptor.Id(m0), PackedDescriptor.Id(m1), PackedDescriptor.Id(m2), PackedDescriptor.Id(m3),
            0, 0, 0, 0, usedFlags, holdFirst);
        return true;
    }

    /// <summary>A one-segment mbuf without offload requests: its header is all zero and one copy moves it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool OneSegmentPlain(Mbuf* m) => NotPlain(m) == 0;

    /// <summary>Zero exactly for a <see cref="OneSegmentPlain"/> mbuf (the three tests OR-ed, no branch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong NotPlain(Mbuf* m) =>
        (ulong)m->Next | (m->OlFlags & NetHeaderCodec.MbufOffloadRequests) | (m->PktLen ^ m->DataLen);

    /// <summary>
    /// A buffer through the region cache, refilled on a miss (a batch's buffers may lie in different regions). No
    /// cold feature is on while batches run (<see cref="PackedUsedRing.DirectFrom"/>), so any region will do.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte* Translate(ref RegionCache region, GuestMemory mem, ulong gpa, uint len)
    {
        byte* p = region.Translate(gpa, len);
        if (p != null) return p;
        region = RegionCache.For(mem, gpa);
        return region.Translate(gpa, len);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(Mbuf* m, byte* dst, uint hdr, uint total)
    {
        NetHeaderCodec.WritePlain(dst, hdr);
        PacketCopy.Copy(dst + hdr, m->Data, total - hdr);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take(Mbuf* m, byte* src, uint pktLen)
    {
        PacketCopy.Copy(m->Data, src, pktLen);
        m->DataLen = (ushort)pktLen;
        m->PktLen = pktLen;
    }

    /// <summary>The four used entries in the four slots at <paramref name="d"/>: ids and lengths, then the flags.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Used(byte* d, ushort i0, ushort i1, ushort i2, ushort i3, uint n0, uint n1, uint n2, uint n3,
        uint usedFlags, bool holdFirst)
    {
        PackedDescriptor.WriteUsedIdLen(d, i0, n0);
        PackedDescriptor.WriteUsedIdLen(d + 16, i1, n1);
        PackedDescriptor.WriteUsedIdLen(d + 32, i2, n2);
        PackedDescriptor.WriteUsedIdLen(d + 48, i3, n3);
        if (!holdFirst) PackedUsedRing.StoreFlagsAt(d, usedFlags);
        PackedUsedRing.StoreFlagsAt(d + 16, usedFlags);
        PackedUsedRing.StoreFlagsAt(d + 32, usedFlags);
        PackedUsedRing.StoreFlagsAt(d + 48, usedFlags);
    }
}
