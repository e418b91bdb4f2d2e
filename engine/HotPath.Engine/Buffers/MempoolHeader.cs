using HotPath.Engine.Rings;

namespace HotPath.Engine.Buffers;

/// <summary>
/// <c>struct hp_mempool</c> (opaque to C): a fixed-size pool of mbufs in native memory. Free objects sit in an MP/MC
/// <see cref="RingHeader"/> ring and in per-thread caches (DPDK's per-lcore cache model), so the common alloc/free
/// touches only the calling thread's cache line.
/// <para>Memory: one normal-page block holds this header and the cache array (<see cref="MempoolCacheSlots.MaxSlots"/>
/// caches, <see cref="CacheStride"/> bytes apart); the ring has its own block; the objects have theirs (hugepages by
/// default). Each object is a 128-byte <see cref="Mbuf"/> followed by DataRoom bytes, 64-byte aligned.</para>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
public unsafe struct MempoolHeader
{
    public const int Size = 256;
    public const uint MagicValue = 0x4D_50_48_31; // "1HPM"
    public const int NameSize = 32;

    // ---- line 0: everything alloc and free read ----
    [FieldOffset(0)] public uint Magic;
    /// <summary>Objects a thread's cache refills to (0: no caches).</summary>
    [FieldOffset(4)] public uint CacheSize;
    /// <summary>A cache holding this many objects after a free spills down to CacheSize (CacheSize * 3 / 2).</summary>
    [FieldOffset(8)] public uint FlushThreshold;
    /// <summary>Bytes from one thread's cache to the next.</summary>
    [FieldOffset(12)] public uint CacheStride;
    [FieldOffset(16)] public MempoolCache* Caches;
    [FieldOffset(24)] public RingHeader* Ring;
    /// <summary>buf_len of every mbuf: the data room including the headroom, as rte_pktmbuf_pool_create.</summary>
    [FieldOffset(32)] public ushort DataRoom;
    /// <summary>data_off of a fresh mbuf: min(RTE_PKTMBUF_HEADROOM, DataRoom).</summary>
    [FieldOffset(34)] public ushort Headroom;
    /// <summary>Bytes per object: Mbuf header plus data room rounded up to 64.</summary>
    [FieldOffset(36)] public uint ElementSize;
    [FieldOffset(40)] public byte* Objects;
    [FieldOffset(48)] public uint Count;
    [FieldOffset(52)] public MempoolFlags Flags;
    [FieldOffset(56)] public MempoolBacking Backing;

    // ---- line 1: identity and cold counters ----
    /// <summary>NUL-terminated UTF-8 name (at most 31 bytes).</summary>
    [FieldOffset(64)] public fixed byte Name[NameSize];
    /// <summary>Frees of an mbuf that was already free (refcnt 0), and objects a full ring could not take back;
    /// each one was dropped instead of corrupting the pool.</summary>
    [FieldOffset(96)] public ulong BadFrees;

    // ---- lines 2-3: the mappings, for teardown ----
    [FieldOffset(128)] public PageBlock MetaBlock;
    [FieldOffset(192)] public PageBlock ObjectBlock;

    /// <summary>The <paramref name="i"/>th object of the pool.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Mbuf* Object(MempoolHeader* mp, uint i)
    {
        System.Diagnostics.Debug.Assert(i < mp->Count);
        // SAFETY: i < Count and the object area holds Count elements of ElementSize bytes.
        return (Mbuf*)(mp->Objects + (nuint)i * mp->ElementSize);
    }

    /// <summary>True when <paramref name="m"/> is the start of one of this pool's objects.</summary>
    public static bool Owns(MempoolHeader* mp, Mbuf* m)
    {
        nuint offset = (nuint)((byte*)m - mp->Objects);
        return (byte*)m >= mp->Objects && offset < (nuint)mp->Count * mp->ElementSize && offset % mp->ElementSize == 0;
    }
}

/// <summary>
/// One thread's cache of free objects for one pool (rte_mempool_cache): a LIFO stack, touched only by the thread
/// that owns the slot, so it needs no atomics. Other threads read <see cref="Len"/> only for statistics.
/// The object pointers follow the 64-byte header.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = HeaderSize)]
public unsafe struct MempoolCache
{
    public const int HeaderSize = 64;

    [FieldOffset(0)] public uint Len;

    /// <summary>The stack of object pointers (capacity 2 * FlushThreshold).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void** Objs(MempoolCache* c) => (void**)((byte*)c + HeaderSize);

    /// <summary>Bytes one cache takes for a pool with this flush threshold.</summary>
    public static uint StrideFor(uint flushThreshold) =>
        HeaderSize + (uint)PageAllocator.AlignUp((nuint)(2 * flushThreshold * (uint)sizeof(void*)), 64);
}
