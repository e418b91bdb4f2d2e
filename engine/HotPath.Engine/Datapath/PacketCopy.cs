using System.Runtime.Intrinsics;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Packet byte copies between guest buffers and mbufs. Up to 128 bytes: overlapping vector loads and stores from
/// both ends (no loop, no tail loop). 129..512 bytes: a vector loop, tiered <c>Vector512</c> → <c>Vector256</c> →
/// <c>Vector128</c> by <c>IsHardwareAccelerated</c>, with one overlapping vector for the tail. Larger: the runtime's
/// block copy (libc memcpy, which picks AVX2/AVX-512 or <c>rep movsb</c> for the CPU it runs on, also under a
/// NativeAOT build compiled for a baseline ISA). Source and destination never overlap (one is guest memory, the
/// other an mbuf or a shadow ring).
/// </summary>
public static unsafe class PacketCopy
{
    /// <summary>Above this many bytes the block copy wins over an inline vector loop.</summary>
    private const nuint BlockCopyThreshold = 512;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(byte* dst, byte* src, nuint len)
    {
        if (len <= 32) CopyUpTo32(dst, src, len);
        else if (len <= 128) Copy33To128(dst, src, len);
        else CopyLarger(dst, src, len);
    }

    /// <summary>A copy of any length that stays a call (for call sites that must stay small).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void CopyOutOfLine(byte* dst, byte* src, nuint len) => Copy(dst, src, len);

    /// <summary>0..32 bytes with at most two loads and two stores.</summary>
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

    /// <summary>33..128 bytes: vectors from both ends overlapping in the middle, no loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy33To128(byte* dst, byte* src, nuint len)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            // SAFETY: 33 <= len <= 128: [0,32), [len-32,len) and, past 64, [32,64), [len-64,len-32) are in range.
            Vector256<byte> a = Vector256.Load(src);
            Vector256<byte> b = Vector256.Load(src + len - 32);
            if (len > 64)
            {
                Vector256.Load(src + 32).Store(dst + 32);
                Vector256.Load(src + len - 64).Store(dst + len - 64);
            }
            a.Store(dst);
            b.Store(dst + len - 32);
            return;
        }
        // SAFETY: as above with 16-byte vectors: [0,32) and [len-32,len), past 64 also [32,64) and [len-64,len-32).
        Vector128<byte> x0 = Vector128.Load(src), x1 = Vector128.Load(src + 16);
        Vector128<byte> y0 = Vector128.Load(src + len - 32), y1 = Vector128.Load(src + len - 16);
        if (len > 64)
        {
            Vector128.Load(src + 32).Store(dst + 32);
            Vector128.Load(src + 48).Store(dst + 48);
            Vector128.Load(src + len - 64).Store(dst + len - 64);
            Vector128.Load(src + len - 48).Store(dst + len - 48);
        }
        x0.Store(dst);
        x1.Store(dst + 16);
        y0.Store(dst + len - 32);
        y1.Store(dst + len - 16);
    }

    /// <summary>More than 128 bytes.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CopyLarger(byte* dst, byte* src, nuint len)
    {
        Debug.Assert(len > 128);
        if (len > BlockCopyThreshold)
        {
            // Pieces come from 32-bit descriptor lengths and mbuf segments, so len fits a uint.
            Debug.Assert(len <= uint.MaxValue);
            Unsafe.CopyBlockUnaligned(dst, src, (uint)len);
            return;
        }
        nuint i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 64 <= len; i += 64) Vector512.Load(src + i).Store(dst + i);
            // SAFETY: len > 128, so [len-64, len) is inside the range; it overlaps bytes already copied.
            if (i != len) Vector512.Load(src + len - 64).Store(dst + len - 64);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 64 <= len; i += 64)
            {
                Vector256<byte> a = Vector256.Load(src + i), b = Vector256.Load(src + i + 32);
                a.Store(dst + i);
                b.Store(dst + i + 32);
            }
            // SAFETY: len > 128: the last 64 bytes are inside the range (overlapping what was copied).
            if (i != len)
            {
                Vector256<byte> a = Vector256.Load(src + len - 64), b = Vector256.Load(src + len - 32);
                a.Store(dst + len - 64);
                b.Store(dst + len - 32);
            }
        }
        else
        {
            for (; i + 64 <= len; i += 64)
            {
                Vector128<byte> a = Vector128.Load(src + i), b = Vector128.Load(src + i + 16);
                Vector128<byte> c = Vector128.Load(src + i + 32), d = Vector128.Load(src + i + 48);
                a.Store(dst + i);
                b.Store(dst + i + 16);
                c.Store(dst + i + 32);
                d.Store(dst + i + 48);
            }
            // SAFETY: len > 128: the last 64 bytes are inside the range (overlapping what was copied).
            if (i != len) Copy33To128(dst + len - 64, src + len - 64, 64);
        }
    }
}
