using HotPath.Engine.Rings;

namespace HotPath.Engine.Buffers;

/// <summary>
/// Raw object get/put of a <see cref="MempoolHeader"/> pool through the calling thread's cache and the pool's ring
/// (rte_mempool_generic_get/put). Objects come out raw: <see cref="MbufOps"/> resets them.
/// </summary>
public static unsafe class MempoolOps
{
    /// <summary>The calling thread's cache in <paramref name="mp"/>, or null (pool without caches, or a thread
    /// past the slot maximum).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static MempoolCache* CacheOf(MempoolHeader* mp)
    {
        int slot = MempoolCacheSlots.Current;
        if (slot < 0 || mp->Caches == null) return null;
        // SAFETY: slot < MaxSlots and the cache array holds MaxSlots caches of CacheStride bytes.
        Debug.Assert(slot < MempoolCacheSlots.MaxSlots);
        return (MempoolCache*)((byte*)mp->Caches + (nuint)slot * mp->CacheStride);
    }

    /// <summary>
    /// Takes exactly <paramref name="n"/> objects into <paramref name="objs"/>, or none: returns false only when the
    /// calling thread's cache and the ring together hold fewer than n (objects in live threads' caches are not
    /// reachable, as in DPDK). Before failing, the caches of exited threads are reclaimed and the get retried once.
    /// </summary>
    public static bool Get(MempoolHeader* mp, void** objs, uint n) =>
        TryGet(mp, objs, n) || (MempoolCacheSlots.ReclaimAfterShortage() && TryGet(mp, objs, n));

    private static bool TryGet(MempoolHeader* mp, void** objs, uint n)
    {
        Debug.Assert(mp != null && mp->Magic == MempoolHeader.MagicValue);
        MempoolCache* c = CacheOf(mp);
        if (c == null) return RingOps.DequeueBulk(mp->Ring, objs, n, null) == n;

        void** stack = MempoolCache.Objs(c);
        uint len = c->Len;
        if (n > len && n <= mp->CacheSize)
        {
            // Refill: what is missing plus a full cache, in one ring operation. Stack capacity is 2 * FlushThreshold
            // >= n + CacheSize, so this fits.
            uint want = n - len + mp->CacheSize;
            Debug.Assert(len + want <= 2 * mp->FlushThreshold);
            if (RingOps.DequeueBulk(mp->Ring, stack + len, want, null) == want) len += want;
        }
        if (n <= len)
        {
            // Hand out the most recently freed (cache-hot) objects first.
            for (uint i = 0; i < n; i++) objs[i] = stack[len - 1 - i];
            c->Len = len - n;
            return true;
        }
        // Large request, or the refill failed: the ring supplies what the cache lacks, the cache the rest.
        uint fromRing = n - len;
        if (RingOps.DequeueBulk(mp->Ring, objs, fromRing, null) != fromRing)
        {
            c->Len = len;
            return false;
        }
        for (uint i = 0; i < len; i++) objs[fromRing + i] = stack[len - 1 - i];
        c->Len = 0;
        return true;
    }

    /// <summary>Gives <paramref name="n"/> raw objects of this pool back.</summary>
    public static void Put(MempoolHeader* mp, void** objs, uint n)
    {
        Debug.Assert(mp != null && mp->Magic == MempoolHeader.MagicValue);
        MempoolCache* c = CacheOf(mp);
        if (c == null || n > mp->FlushThreshold)
        {
            PutToRing(mp, objs, n);
            return;
        }
        void** stack = MempoolCache.Objs(c);
        uint len = c->Len;
        // SAFETY: len <= FlushThreshold and n <= FlushThreshold; the stack holds 2 * FlushThreshold.
        Debug.Assert(len <= mp->FlushThreshold);
        for (uint i = 0; i < n; i++) stack[len + i] = objs[i];
        c->Len = len + n;
        if (len + n >= mp->FlushThreshold) Flush(mp, c);
    }

    /// <summary>Single-object put: the free fast path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PutOne(MempoolHeader* mp, void* obj)
    {
        Debug.Assert(mp != null && mp->Magic == MempoolHeader.MagicValue);
        MempoolCache* c = CacheOf(mp);
        if (c == null)
        {
            PutToRing(mp, &obj, 1);
            return;
        }
        uint len = c->Len;
        // SAFETY: len < FlushThreshold after every put (Flush brings it to CacheSize); capacity is 2 * FlushThreshold.
        Debug.Assert(len <= mp->FlushThreshold);
        MempoolCache.Objs(c)[len] = obj;
        c->Len = len + 1;
        if (len + 1 >= mp->FlushThreshold) Flush(mp, c);
    }

    /// <summary>Single-object get: the alloc fast path. Null when the pool is empty for this thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void* GetOne(MempoolHeader* mp)
    {
        Debug.Assert(mp != null && mp->Magic == MempoolHeader.MagicValue);
        MempoolCache* c = CacheOf(mp);
        uint len;
        if (c != null && (len = c->Len) != 0)
        {
            c->Len = len - 1;
            // SAFETY: len - 1 < Len <= capacity.
            return MempoolCache.Objs(c)[len - 1];
        }
        return GetOneSlow(mp);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void* GetOneSlow(MempoolHeader* mp)
    {
        void* obj;
        return Get(mp, &obj, 1) ? obj : null;
    }

    /// <summary>Moves everything in cache <paramref name="slot"/> to the ring. The slot must have no owner thread.</summary>
    public static void DrainCache(MempoolHeader* mp, int slot)
    {
        Debug.Assert((uint)slot < MempoolCacheSlots.MaxSlots);
        if (mp->Caches == null) return;
        // SAFETY: slot < MaxSlots, inside the cache array.
        var c = (MempoolCache*)((byte*)mp->Caches + (nuint)slot * mp->CacheStride);
        if (c->Len == 0) return;
        PutToRing(mp, MempoolCache.Objs(c), c->Len);
        c->Len = 0;
    }

    /// <summary>Spills the cache above CacheSize to the ring (the most recently freed ones, as DPDK).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Flush(MempoolHeader* mp, MempoolCache* c)
    {
        uint len = c->Len;
        uint keep = mp->CacheSize;
        if (len <= keep) return;
        PutToRing(mp, MempoolCache.Objs(c) + keep, len - keep);
        c->Len = keep;
    }

    private static void PutToRing(MempoolHeader* mp, void** objs, uint n)
    {
        // The ring holds Count objects, so this cannot fail unless more objects come back than the pool has: a
        // double free that slipped past the refcnt check, or a foreign object. Drop them and count.
        if (RingOps.EnqueueBulk(mp->Ring, objs, n, null) != n) CountOverflow(mp, n);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CountOverflow(MempoolHeader* mp, uint n)
    {
        Debug.Fail($"mempool ring overflow: {n} objects returned beyond the pool's count");
        Interlocked.Add(ref mp->BadFrees, n);
    }

    /// <summary>Objects handed out and not back in the ring or a cache. Exact when no get/put is in flight.</summary>
    public static uint InUse(MempoolHeader* mp)
    {
        long free = RingOps.Count(mp->Ring);
        if (mp->Caches != null)
        {
            for (int s = 0; s < MempoolCacheSlots.MaxSlots; s++)
            {
                var c = (MempoolCache*)((byte*)mp->Caches + (nuint)s * mp->CacheStride);
                // Racy by design (DPDK's rte_mempool_avail_count is too): another thread's cache length changes
                // under us; the volatile read only keeps the compiler from caching it.
                free += Volatile.Read(ref c->Len);
            }
        }
        return free >= mp->Count ? 0 : mp->Count - (uint)free;
    }
}
