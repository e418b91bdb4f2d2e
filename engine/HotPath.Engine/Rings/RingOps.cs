using System.Numerics;
using HotPath.Engine.Buffers;
using HotPath.Engine.Interop;

namespace HotPath.Engine.Rings;

/// <summary>
/// <c>hp_ring_*</c>: creation, teardown and occupancy of <see cref="RingHeader"/> rings. The enqueue and dequeue
/// paths are in RingOps.Burst.cs, on the head/tail protocol of RingOps.HeadTail.cs.
/// <para>DPDK semantics: the count given at creation must be a power of two and the ring holds at most count - 1
/// objects (one slot stays empty). Bursts move as many objects as fit; bulks move all or none.</para>
/// </summary>
public static unsafe partial class RingOps
{
    /// <summary>Largest ring size accepted (2 GiB of slots); indexes are free-running u32.</summary>
    public const uint MaxCount = 1u << 28;

    /// <summary>
    /// Creates a ring of <paramref name="count"/> slots (power of two, 2..<see cref="MaxCount"/>; capacity count - 1)
    /// in native memory from <see cref="PageAllocator"/>. Returns null and a readable <paramref name="error"/> on bad
    /// arguments or when the memory cannot be mapped.
    /// </summary>
    public static RingHeader* Create(string name, uint count, RingFlags flags, out string? error)
    {
        error = Validate(name, count, flags);
        if (error != null) return null;
        nuint bytes = RingHeader.HeaderSize + (nuint)count * (nuint)sizeof(void*);
        int rc = PageAllocator.TryAllocate(bytes, huge: false, populate: true, out PageBlock block);
        if (rc != 0)
        {
            error = $"ring \"{name}\": cannot map {bytes} bytes for {count} slots: {LibC.StrError(-rc)}";
            return null;
        }
        // SAFETY: the block holds at least HeaderSize + count pointers, zero-filled; Base is 64-byte aligned.
        var r = (RingHeader*)block.Base;
        r->Magic = RingHeader.MagicValue;
        r->Flags = flags;
        r->Size = count;
        r->Mask = count - 1;
        r->Capacity = count - 1;
        r->Block = block;
        NativeName.Write(name, r->Name, RingHeader.NameSize);
        return r;
    }

    /// <summary>Why these arguments cannot make a ring, or null.</summary>
    public static string? Validate(string? name, uint count, RingFlags flags)
    {
        if (NativeName.Validate(name, RingHeader.NameSize, "ring") is { } bad) return bad;
        if ((flags & ~(RingFlags.SpEnq | RingFlags.ScDeq)) != 0)
            return $"ring \"{name}\": unknown flag bits 0x{(uint)flags & ~3u:x} (only HP_RING_F_SP_ENQ=1 and HP_RING_F_SC_DEQ=2 exist)";
        if (count < 2 || !BitOperations.IsPow2(count))
            return $"ring \"{name}\": count {count} is not a power of two >= 2 (the ring holds count - 1 objects)";
        if (count > MaxCount) return $"ring \"{name}\": count {count} exceeds the maximum {MaxCount}";
        return null;
    }

    /// <summary>Unmaps the ring. Null is a no-op. No thread may be using it.</summary>
    public static void Free(RingHeader* r)
    {
        if (r == null) return;
        Debug.Assert(r->Magic == RingHeader.MagicValue, "hp_ring_free of something that is not a live ring");
        PageBlock block = r->Block;   // copy out: the header lives inside the block being unmapped
        r->Magic = 0;
        PageAllocator.Free(ref block);
    }

    /// <summary>Objects in the ring now (a snapshot when other threads are active).</summary>
    public static uint Count(RingHeader* r)
    {
        Debug.Assert(r != null && r->Magic == RingHeader.MagicValue);
        // Two acquire reads of the published tails; neither orders slot data (nothing is read through them), they
        // just avoid torn or hoisted reads. The mask and clamp make a momentarily inconsistent pair harmless.
        uint prodTail = Volatile.Read(ref r->Prod.Tail);
        uint consTail = Volatile.Read(ref r->Cons.Tail);
        uint count = (prodTail - consTail) & r->Mask;
        return count > r->Capacity ? r->Capacity : count;
    }

    /// <summary>Objects that could be enqueued now (a snapshot when other threads are active).</summary>
    public static uint FreeCount(RingHeader* r) => r->Capacity - Count(r);

    /// <summary>Usable capacity: the count given at creation minus one.</summary>
    public static uint Capacity(RingHeader* r) => r->Capacity;

    public static bool IsEmpty(RingHeader* r) => Count(r) == 0;

    public static string Name(RingHeader* r) => NativeName.Read(r->Name, RingHeader.NameSize);

    /// <summary>Copies <paramref name="n"/> pointers from <paramref name="objs"/> into the slots starting at
    /// <paramref name="index"/> (masked, wrapping at the end of the slot array).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyIn(RingHeader* r, uint index, void** objs, uint n) => CopySlots(r, index, objs, n, toSlots: true);

    /// <summary>Copies <paramref name="n"/> pointers out of the slots starting at <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyOut(RingHeader* r, uint index, void** objs, uint n) => CopySlots(r, index, objs, n, toSlots: false);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopySlots(RingHeader* r, uint index, void** objs, uint n, bool toSlots)
    {
        uint at = index & r->Mask;
        uint first = r->Size - at < n ? r->Size - at : n;
        void** slots = RingHeader.Slots(r);
        long firstBytes = (long)first * sizeof(void*), restBytes = (long)(n - first) * sizeof(void*);
        // SAFETY: at + first <= Size and n - first <= Size (n <= Capacity < Size): both pieces stay inside the slot
        // array; the caller owns objs[0..n).
        if (toSlots)
        {
            Buffer.MemoryCopy(objs, slots + at, firstBytes, firstBytes);
            if (restBytes != 0) Buffer.MemoryCopy(objs + first, slots, restBytes, restBytes);
        }
        else
        {
            Buffer.MemoryCopy(slots + at, objs, firstBytes, firstBytes);
            if (restBytes != 0) Buffer.MemoryCopy(slots, objs + first, restBytes, restBytes);
        }
    }
}
