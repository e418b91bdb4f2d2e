using HotPath.Engine.Interop;
using HotPath.Engine.Rings;

namespace HotPath.Engine.Buffers;

/// <summary>
/// A pool of <see cref="Mbuf"/>s in native memory (rte_pktmbuf_pool_create). The native state is the
/// <see cref="MempoolHeader"/> behind <see cref="Header"/>, the handle C callers get as <c>struct hp_mempool *</c>;
/// the hot path (<see cref="MbufOps"/>) works on that pointer alone. A pool lives until <see cref="Dispose"/> (or
/// <see cref="FreeNative"/>); every live pool is in a registry keyed by its header so the C ABI can find its owner.
/// </summary>
public sealed unsafe class Mempool : IDisposable
{
    private static readonly Lock s_registryLock = new();
    private static readonly Dictionary<nint, Mempool> s_registry = new();

    private MempoolHeader* _header;

    private Mempool(MempoolHeader* header, string name, string backingNote)
    {
        _header = header;
        Name = name;
        Count = header->Count;
        CacheSize = header->CacheSize;
        DataRoom = header->DataRoom;
        Backing = header->Backing;
        BackingNote = backingNote;
    }

    /// <summary>The C handle (<c>struct hp_mempool *</c>).</summary>
    public MempoolHeader* Header => _header != null ? _header : throw new ObjectDisposedException(Name);

    public string Name { get; }
    public uint Count { get; }
    public uint CacheSize { get; }
    /// <summary>buf_len of each mbuf, headroom included.</summary>
    public ushort DataRoom { get; }
    public MempoolBacking Backing { get; }
    /// <summary>Why the object area is on <see cref="Backing"/>: the request, or the failure that forced the fallback.</summary>
    public string BackingNote { get; }

    /// <summary>Objects handed out and not yet returned (objects in thread caches count as free). Exact when no
    /// alloc or free is in flight.</summary>
    public uint InUse => MempoolOps.InUse(Header);
    public uint Available => Count - InUse;
    /// <summary>Frees of an already free mbuf that were detected and dropped.</summary>
    public ulong BadFrees => Volatile.Read(ref Header->BadFrees);

    /// <summary>One reset mbuf, or null when the pool is empty.</summary>
    public Mbuf* Alloc() => MbufOps.Alloc(Header);

    /// <summary>Fills <paramref name="mbufs"/> with reset mbufs: 0, or -ENOMEM and nothing allocated.</summary>
    public int AllocBulk(Span<nint> mbufs)
    {
        fixed (nint* p = mbufs) return MbufOps.AllocBulk(Header, (Mbuf**)p, (uint)mbufs.Length);
    }

    /// <summary>
    /// Creates a pool of <paramref name="count"/> mbufs, each with <paramref name="dataRoom"/> bytes of buffer
    /// (headroom included). Throws <see cref="ArgumentException"/> for bad arguments and <see cref="IOException"/>
    /// when the memory cannot be mapped, each with a readable message.
    /// </summary>
    public static Mempool Create(string name, uint count, uint cacheSize, ushort dataRoom, MempoolFlags flags = MempoolFlags.None)
    {
        string? bad = MempoolLimits.Validate(name, count, cacheSize, dataRoom, flags);
        if (bad != null) throw new ArgumentException(bad);
        return TryBuild(name, count, cacheSize, dataRoom, flags, out string? error) ?? throw new IOException(error);
    }

    /// <summary>As <see cref="Create"/>, without exceptions: null and the reason.</summary>
    public static Mempool? TryCreate(string name, uint count, uint cacheSize, ushort dataRoom, MempoolFlags flags, out string? error)
    {
        error = MempoolLimits.Validate(name, count, cacheSize, dataRoom, flags);
        return error != null ? null : TryBuild(name, count, cacheSize, dataRoom, flags, out error);
    }

    /// <summary>For the C ABI (<c>hp_mempool_create</c>): the header of a new pool, or null and the reason. The pool
    /// stays registered until <see cref="FreeNative"/>.</summary>
    public static MempoolHeader* CreateNative(string name, uint count, uint cacheSize, ushort dataRoom, MempoolFlags flags, out string? error) =>
        TryCreate(name, count, cacheSize, dataRoom, flags, out error) is { } pool ? pool._header : null;

    /// <summary>For the C ABI (<c>hp_mempool_free</c>): destroys the pool behind <paramref name="mp"/>. Null is a
    /// no-op; false when <paramref name="mp"/> is not a live pool.</summary>
    public static bool FreeNative(MempoolHeader* mp)
    {
        if (mp == null) return true;
        Mempool? pool = FromHeader(mp);
        pool?.Dispose();
        return pool != null;
    }

    /// <summary>The live pool whose header is <paramref name="mp"/>, or null.</summary>
    public static Mempool? FromHeader(MempoolHeader* mp)
    {
        lock (s_registryLock) return s_registry.GetValueOrDefault((nint)mp);
    }

    /// <summary>Empties cache <paramref name="slot"/> of every live pool into its ring. Only for a slot no thread
    /// owns (called when a thread's slot is released).</summary>
    internal static void DrainSlotCaches(int slot)
    {
        // Under the registry lock: a pool cannot be unmapped while we touch it (Dispose unregisters first).
        lock (s_registryLock)
            foreach (nint mp in s_registry.Keys) MempoolOps.DrainCache((MempoolHeader*)mp, slot);
    }

    /// <summary>Unmaps the pool. Mbufs still out become dangling, as in DPDK: free them first.</summary>
    public void Dispose()
    {
        MempoolHeader* mp;
        lock (s_registryLock)
        {
            mp = _header;
            if (mp == null) return;
            s_registry.Remove((nint)mp);
            _header = null;
        }
        RingOps.Free(mp->Ring);
        PageBlock objects = mp->ObjectBlock;
        PageBlock meta = mp->MetaBlock;   // copy out: the header lives inside this block
        mp->Magic = 0;
        PageAllocator.Free(ref objects);
        PageAllocator.Free(ref meta);
    }

    private static Mempool? TryBuild(string name, uint count, uint cacheSize, ushort dataRoom, MempoolFlags flags, out string? error)
    {
        uint flush = MempoolLimits.FlushThreshold(cacheSize);
        uint stride = cacheSize == 0 ? 0 : MempoolCache.StrideFor(flush);
        nuint metaBytes = MempoolHeader.Size + (nuint)stride * MempoolCacheSlots.MaxSlots;
        int rc = PageAllocator.TryAllocate(metaBytes, huge: false, populate: false, out PageBlock meta);
        if (rc != 0)
        {
            error = $"mempool \"{name}\": cannot map {metaBytes} bytes for the header and caches: {LibC.StrError(-rc)}";
            return null;
        }
        // SAFETY: the block holds the header and MaxSlots caches of stride bytes, zero-filled (every cache empty).
        var mp = (MempoolHeader*)meta.Base;
        mp->MetaBlock = meta;
        mp->Count = count;
        mp->CacheSize = cacheSize;
        mp->FlushThreshold = flush;
        mp->CacheStride = stride;
        mp->Caches = cacheSize == 0 ? null : (MempoolCache*)(meta.Base + MempoolHeader.Size);
        mp->DataRoom = dataRoom;
        mp->Headroom = dataRoom < Mbuf.DefaultHeadroom ? dataRoom : Mbuf.DefaultHeadroom;
        mp->ElementSize = MempoolLimits.ElementSize(dataRoom);
        mp->Flags = flags;
        NativeName.Write(name, mp->Name, MempoolHeader.NameSize);

        string? failure = MapObjects(mp, name, out string note) ?? CreateFreeRing(mp, name);
        if (failure != null)
        {
            RingOps.Free(mp->Ring);
            PageBlock objects = mp->ObjectBlock;
            PageAllocator.Free(ref objects);
            PageAllocator.Free(ref meta);
            error = failure;
            return null;
        }
        mp->Magic = MempoolHeader.MagicValue;
        var pool = new Mempool(mp, name, note);
        lock (s_registryLock) s_registry.Add((nint)mp, pool);
        error = null;
        return pool;
    }

    /// <summary>Maps the object area, hugepages first unless NoHuge; null or the reason nothing could be mapped.</summary>
    private static string? MapObjects(MempoolHeader* mp, string name, out string note)
    {
        nuint bytes = (nuint)mp->Count * mp->ElementSize;
        PageBlock block;
        int rc;
        if ((mp->Flags & MempoolFlags.NoHuge) != 0)
        {
            note = "normal pages: HP_MEMPOOL_F_NO_HUGE (MempoolFlags.NoHuge) was requested";
        }
        else if ((rc = PageAllocator.TryAllocate(bytes, huge: true, populate: true, out block)) == 0)
        {
            mp->ObjectBlock = block;
            mp->Backing = MempoolBacking.Hugepages;
            note = $"hugepages: {block.MapLength / PageAllocator.HugePageSize} x 2 MiB (anonymous MAP_HUGETLB) for {bytes} bytes";
            return null;
        }
        else
        {
            note = $"normal pages: mmap(MAP_HUGETLB) of {PageAllocator.AlignUp(bytes, PageAllocator.HugePageSize) >> 20} MiB " +
                   $"failed: {LibC.StrError(-rc)} (HugePages_Free={PageAllocator.FreeHugepages()})";
        }
        rc = PageAllocator.TryAllocate(bytes, huge: false, populate: true, out block);
        if (rc != 0) return $"mempool \"{name}\": cannot map {bytes} bytes for {mp->Count} objects: {LibC.StrError(-rc)}";
        mp->ObjectBlock = block;
        mp->Backing = MempoolBacking.NormalPages;
        return null;
    }

    /// <summary>Lays out every object and puts it in a new MP/MC ring; null or the reason.</summary>
    private static string? CreateFreeRing(MempoolHeader* mp, string name)
    {
        uint ringSize = System.Numerics.BitOperations.RoundUpToPowerOf2(mp->Count + 1);
        string ringName = NativeName.Validate(name + ".free", RingHeader.NameSize, "ring") == null ? name + ".free" : "mempool.free";
        RingHeader* ring = RingOps.Create(ringName, ringSize, RingFlags.None, out string? error);
        if (ring == null) return $"mempool \"{name}\": {error}";
        mp->Ring = ring;
        mp->Objects = mp->ObjectBlock.Base;
        Debug.Assert(((nuint)mp->Objects & 63) == 0 && (mp->ElementSize & 63) == 0);
        const uint Batch = 64;
        void** batch = stackalloc void*[(int)Batch];
        for (uint i = 0; i < mp->Count;)
        {
            uint n = Math.Min(Batch, mp->Count - i);
            for (uint k = 0; k < n; k++, i++)
            {
                Mbuf* m = MempoolHeader.Object(mp, i);
                m->BufAddr = (byte*)m + Mbuf.HeaderSize;
                m->BufIova = (ulong)m->BufAddr;
                m->BufLen = mp->DataRoom;
                m->Pool = mp;
                MbufOps.Reset(m);
                m->RefCnt = 0;   // free
                batch[k] = m;
            }
            uint put = RingOps.EnqueueBulk(ring, batch, n, null);
            Debug.Assert(put == n, "the free ring is sized for every object");
        }
        return null;
    }
}
