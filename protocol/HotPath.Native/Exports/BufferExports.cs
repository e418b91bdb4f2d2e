using System.Runtime.InteropServices;
using HotPath.Engine.Buffers;
using HotPath.Engine.Interop;
using HotPath.Native.Interop;

namespace HotPath.Native.Exports;

/// <summary>
/// <c>hp_mempool_*</c> and <c>hp_pktmbuf_*</c> (rte_pktmbuf_pool_create, rte_pktmbuf_alloc/free and their bulk
/// forms) over the engine's <see cref="Mempool"/> and <see cref="MbufOps"/>. A pool handle is checked by its magic
/// word (one load) before use; mbufs are trusted as DPDK trusts them.
/// </summary>
internal static unsafe class BufferExports
{
    /// <summary>A pool of <paramref name="n"/> mbufs with <paramref name="dataRoom"/> bytes each (headroom included).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_mempool_create")]
    public static MempoolHeader* MempoolCreate(byte* name, uint n, uint cacheSize, ushort dataRoom, uint flags)
    {
        const string fn = "hp_mempool_create";
        try
        {
            if (!Args.String(fn, "name", name, out string s)) return null;
            MempoolHeader* mp = Mempool.CreateNative(s, n, cacheSize, dataRoom, (MempoolFlags)flags, out string? error);
            if (mp == null) LastError.Set(fn, error ?? "cannot create the pool", LibC.ENOMEM);
            return mp;
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return null;
        }
    }

    /// <summary>Destroys a pool; NULL is a no-op. Mbufs still out become dangling, as in DPDK.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_mempool_free")]
    public static void MempoolFree(MempoolHeader* mp)
    {
        const string fn = "hp_mempool_free";
        try
        {
            if (!Mempool.FreeNative(mp)) LastError.Set(fn, "not a live pool from hp_mempool_create", LibC.EINVAL);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
        }
    }

    /// <summary>One reset mbuf, or NULL when the pool is empty for this thread.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_pktmbuf_alloc")]
    public static Mbuf* Alloc(MempoolHeader* mp)
    {
        const string fn = "hp_pktmbuf_alloc";
        try
        {
            if (!IsPool(fn, mp)) return null;
            Mbuf* m = MbufOps.Alloc(mp);
            if (m == null) LastError.Empty(fn);
            return m;
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return null;
        }
    }

    /// <summary>All <paramref name="count"/> mbufs or none: 0, -ENOMEM (pool short), -EINVAL (bad arguments).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_pktmbuf_alloc_bulk")]
    public static int AllocBulk(MempoolHeader* mp, Mbuf** mbufs, uint count)
    {
        const string fn = "hp_pktmbuf_alloc_bulk";
        try
        {
            if (!IsPool(fn, mp)) return -LibC.EINVAL;
            if (count != 0 && mbufs == null)
            {
                LastError.Null(fn, "mbufs");
                return -LibC.EINVAL;
            }
            int rc = MbufOps.AllocBulk(mp, mbufs, count);
            if (rc != 0) LastError.Empty(fn);
            return rc;
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return -LibC.EIO;
        }
    }

    /// <summary>Frees every segment of the chain; NULL is a no-op.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_pktmbuf_free")]
    public static void Free(Mbuf* m)
    {
        try
        {
            MbufOps.Free(m);
        }
        catch (Exception e)
        {
            LastError.Set("hp_pktmbuf_free", e);
        }
    }

    /// <summary>Frees each chain of the array; NULL entries are skipped.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_pktmbuf_free_bulk")]
    public static void FreeBulk(Mbuf** mbufs, uint count)
    {
        const string fn = "hp_pktmbuf_free_bulk";
        try
        {
            if (count == 0) return;
            if (mbufs == null)
            {
                LastError.Null(fn, "mbufs");
                return;
            }
            MbufOps.FreeBulk(mbufs, count);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
        }
    }

    /// <summary>Objects free in the pool: its ring plus every thread's cache (rte_mempool_avail_count). Caches of
    /// threads that have exited are reclaimed first, so the figure is exact once no get or put is in flight.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_mempool_avail_count")]
    public static uint AvailCount(MempoolHeader* mp)
    {
        const string fn = "hp_mempool_avail_count";
        try
        {
            if (!IsPool(fn, mp)) return 0;
            MempoolCacheSlots.ReclaimExited();
            return mp->Count - MempoolOps.InUse(mp);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    /// <summary>Objects handed out and not freed (rte_mempool_in_use_count); 0 for a bad handle (with the reason).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_mempool_in_use_count")]
    public static uint InUseCount(MempoolHeader* mp)
    {
        const string fn = "hp_mempool_in_use_count";
        try
        {
            return IsPool(fn, mp) ? MempoolOps.InUse(mp) : 0;
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    private static bool IsPool(string function, MempoolHeader* mp)
    {
        if (mp == null)
        {
            LastError.Null(function, "mp");
            return false;
        }
        if (mp->Magic == MempoolHeader.MagicValue) return true;
        LastError.Set(function, "mp is not a pool from hp_mempool_create (or was freed)");
        return false;
    }
}
