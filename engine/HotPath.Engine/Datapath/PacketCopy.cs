using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Packet byte copies between guest buffers and mbufs. Small and medium copies use overlapping vector loads and
/// stores (no loop, no tail loop: the first and last vectors of the range overlap), tiered
/// <c>Vector512</c> → <c>Vector256</c> → <c>Vector128</c> → scalar by <c>IsHardwareAccelerated</c>; large copies go
/// to the runtime's memmove, which uses <c>rep movsb</c> where the CPU has fast strings.
/// Source and destination never overlap (one is guest memory, the other an mbuf).
/// </summary>
public static unsafe class PacketCopy
{
    /// <summary>Above this many bytes the runtime's block copy wins over an unrolled vector loop.</summary>
    private const nuint BlockCopyThreshold = 2048;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(byte* dst, byte* src, nuint len)
    {
        if (len <= 32) CopyUpTo32(dst, src, len);
        else CopyLarger(dst, src, len);
    }

    /// <summary>0..32 bytes with at most two loads and two stores per width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyUpTo32(byte* dst, byte* src, nuint len)
    {
        if (len >= 16)
        {
            // SAFETY: 16 <= len <= 32: [0,16) and [len-16,len) both lie inside the range.
            Vector128<byte> a = Vector128.Load(src);
            Vector128<byte> b = Vector128.Load(src + len - 16);
            a.Store(dst);
            b.Store(dst + len - 16);
        }
        else if (len >= 8)
        {
            ulong a = Unsafe.ReadUnaligned<ulong>(src);
            ulong b = Unsafe.ReadUnaligned<ulong>(src + len - 8);
            Unsafe.WriteUnaligned(dst, a);
            Unsafe.WriteUnaligned(dst + len - 8, b);
        }
        else if (len >= 4)
        {
            uint a = Unsafe.ReadUnaligned<uint>(src);
            uint b = Unsafe.ReadUnaligned<uint>(src + len - 4);
            Unsafe.WriteUnaligned(dst, a);
            Unsafe.WriteUnaligned(dst + len - 4, b);
        }
        else if (len != 0)
        {
            byte first = src[0];
            byte last = src[len - 1];
            byte mid = src[len >> 1];
            dst[0] = first;
            dst[len >> 1] = mid;
            dst[len - 1] = last;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CopyLarger(byte* dst, byte* src, nuint len)
    {
        if (len > BlockCopyThreshold)
        {
            // Pieces come from 32-bit descriptor lengths and mbuf segments, so len fits a uint.
            Debug.Assert(len <= uint.MaxValue);
            Unsafe.CopyBlockUnaligned(dst, src, (uint)len);
            return;
        }
        if (Vector512.IsHardwareAccelerated && len >= 64)
        {
            Copy512(dst, src, len);
            return;
        }
        if (Vector256.IsHardwareAccelerated)
        {
            Copy256(dst, src, len);
            return;
        }
        Copy128(dst, src, len);
    }

    /// <summary>64..2048 bytes: whole 64-byte vectors, then one overlapping vector for the tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy512(byte* dst, byte* src, nuint len)
    {
        nuint i = 0;
        for (; i + 64 <= len; i += 64) Vector512.Load(src + i).Store(dst + i);
        // SAFETY: len >= 64, so [len-64, len) is inside the range; it overlaps bytes already copied.
        if (i != len) Vector512.Load(src + len - 64).Store(dst + len - 64);
    }

    /// <summary>33..2048 bytes with 32-byte vectors and an overlapping tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy256(byte* dst, byte* src, nuint len)
    {
        nuint i = 0;
        for (; i + 32 <= len; i += 32) Vector256.Load(src + i).Store(dst + i);
        // SAFETY: len > 32, so [len-32, len) is inside the range.
        if (i != len) Vector256.Load(src + len - 32).Store(dst + len - 32);
    }

    /// <summary>33..2048 bytes with 16-byte vectors and an overlapping tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy128(byte* dst, byte* src, nuint len)
    {
        nuint i = 0;
        for (; i + 16 <= len; i += 16) Vector128.Load(src + i).Store(dst + i);
        // SAFETY: len > 32, so [len-16, len) is inside the range.
        if (i != len) Vector128.Load(src + len - 16).Store(dst + len - 16);
    }
}
