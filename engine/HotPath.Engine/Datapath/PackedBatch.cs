using System.Runtime.Intrinsics;

namespace HotPath.Engine.Datapath;

/// <summary>
/// The checks of the batch-of-4 path over the four len | id | flags words of one cache line of descriptors (read by
/// the caller with <see cref="PackedDescriptor.ReadMeta"/>, each once). Every precondition of the four is checked
/// before the batch commits anything; any miss sends the caller to the one-chain path, which takes the descriptors
/// one by one (and drops only a bad one). With AVX2 the four words are one <c>Vector256</c> and flags and lengths are
/// checked in a few vector operations; otherwise the same tests run on scalars.
/// </summary>
internal static class PackedBatch
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
}
