using System.Runtime.InteropServices;
using HotPath.Engine.Interop;
using HotPath.Engine.Rings;
using HotPath.Native.Interop;

namespace HotPath.Native.Exports;

/// <summary><c>hp_ring_*</c>: lock-free rings of pointers (rte_ring) over the engine's <see cref="RingOps"/>.</summary>
internal static unsafe class RingExports
{
    /// <summary><paramref name="count"/> slots (a power of two; holds count - 1), flags HP_RING_F_SP_ENQ | HP_RING_F_SC_DEQ.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_ring_create")]
    public static RingHeader* Create(byte* name, uint count, uint flags)
    {
        const string fn = "hp_ring_create";
        try
        {
            if (!Args.String(fn, "name", name, out string s)) return null;
            RingHeader* r = RingOps.Create(s, count, (RingFlags)flags, out string? error);
            if (r == null) LastError.Set(fn, error ?? "cannot create the ring", LibC.EINVAL);
            return r;
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return null;
        }
    }

    /// <summary>Enqueues as many of objs[0..n) as fit; *free_space (optional) gets the slots left.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_ring_enqueue_burst")]
    public static uint EnqueueBurst(RingHeader* r, void** objs, uint n, uint* freeSpace)
    {
        const string fn = "hp_ring_enqueue_burst";
        try
        {
            if (!IsRing(fn, r)) return 0;
            if (objs == null && n != 0)
            {
                LastError.Null(fn, "objs");
                return 0;
            }
            return RingOps.EnqueueBurst(r, objs, n, freeSpace);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    /// <summary>Dequeues up to <paramref name="n"/> objects; *available (optional) gets the objects left.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_ring_dequeue_burst")]
    public static uint DequeueBurst(RingHeader* r, void** objs, uint n, uint* available)
    {
        const string fn = "hp_ring_dequeue_burst";
        try
        {
            if (!IsRing(fn, r)) return 0;
            if (objs == null && n != 0)
            {
                LastError.Null(fn, "objs");
                return 0;
            }
            return RingOps.DequeueBurst(r, objs, n, available);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    /// <summary>Unmaps the ring; NULL is a no-op.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_ring_free")]
    public static void Free(RingHeader* r)
    {
        const string fn = "hp_ring_free";
        try
        {
            if (r == null) return;
            if (IsRing(fn, r)) RingOps.Free(r);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
        }
    }

    private static bool IsRing(string function, RingHeader* r)
    {
        if (r == null)
        {
            LastError.Null(function, "r");
            return false;
        }
        if (r->Magic == RingHeader.MagicValue) return true;
        LastError.Set(function, "r is not a ring from hp_ring_create (or was freed)");
        return false;
    }
}
