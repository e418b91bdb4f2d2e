using System.Runtime.Intrinsics;
using HotPath.Engine.Interop;

namespace HotPath.Engine.Buffers;

/// <summary>
/// <c>hp_pktmbuf_*</c>: mbuf allocation, reset, reference counting and (chain) free on native pools. No locks, no
/// managed allocation, never throws.
/// <para>A free mbuf has refcnt 0 (DPDK keeps 1): a second free of an mbuf that is already back in its pool is seen,
/// counted in <see cref="MempoolHeader.BadFrees"/> and dropped instead of putting the object in the pool twice.</para>
/// </summary>
public static unsafe class MbufOps
{
    /// <summary>rte_pktmbuf_alloc: one reset mbuf, or null when the pool is empty (for this thread).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Mbuf* Alloc(MempoolHeader* mp)
    {
        var m = (Mbuf*)MempoolOps.GetOne(mp);
        if (m != null) Reset(m);
        return m;
    }

    /// <summary>rte_pktmbuf_alloc_bulk: <paramref name="count"/> reset mbufs, or none; 0 or -ENOMEM.</summary>
    public static int AllocBulk(MempoolHeader* mp, Mbuf** mbufs, uint count)
    {
        Debug.Assert(count == 0 || mbufs != null);
        if (count == 0) return 0;
        if (!MempoolOps.Get(mp, (void**)mbufs, count)) return -LibC.ENOMEM;
        for (uint i = 0; i < count; i++) Reset(mbufs[i]);
        return 0;
    }

    /// <summary>rte_pktmbuf_reset: an mbuf as fresh from its pool (one segment, no data, no offloads, refcnt 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Reset(Mbuf* m)
    {
        Debug.Assert(m != null);
        ushort bufLen = m->BufLen;
        ulong dataOff = bufLen < Mbuf.DefaultHeadroom ? bufLen : Mbuf.DefaultHeadroom;
        // Five stores over the fields a reset sets: data_off, refcnt 1, nb_segs 1, port 0xFFFF (16..23, DPDK's
        // rearm_data); ol_flags, packet_type, pkt_len (24..39); data_len, vlan_tci, buf_len (kept), vlan_tci_outer
        // (40..47); hash (48..55); next and tx_offload (64..79). The pool pointer and everything past 80 stay.
        // SAFETY: m points to a whole mbuf header (the Mbuf struct's layout is fixed: FieldOffset).
        byte* p = (byte*)m;
        *(ulong*)(p + 16) = dataOff | (1UL << 16) | (1UL << 32) | (0xFFFFUL << 48);
        Vector128<ulong>.Zero.Store((ulong*)(p + 24));
        *(ulong*)(p + 40) = (ulong)bufLen << 32;
        *(ulong*)(p + 48) = 0;
        Vector128<ulong>.Zero.Store((ulong*)(p + 64));
    }

    /// <summary>rte_pktmbuf_free: frees every segment of the chain (each honouring its refcnt). Null is a no-op.</summary>
    public static void Free(Mbuf* m)
    {
        while (m != null)
        {
            Mbuf* next = m->Next;   // read before the segment can go back and be reused by another thread
            if (PrefreeSegment(m)) MempoolOps.PutOne((MempoolHeader*)m->Pool, m);
            m = next;
        }
    }

    /// <summary>rte_pktmbuf_free_seg: frees one segment, ignoring its next pointer.</summary>
    public static void FreeSegment(Mbuf* m)
    {
        if (m != null && PrefreeSegment(m)) MempoolOps.PutOne((MempoolHeader*)m->Pool, m);
    }

    /// <summary>rte_pktmbuf_free_bulk: frees each chain; nulls are skipped. Consecutive segments of one pool go
    /// back in one batch.</summary>
    public static void FreeBulk(Mbuf** mbufs, uint count)
    {
        const uint Batch = 64;
        void** pending = stackalloc void*[(int)Batch];
        uint np = 0;
        MempoolHeader* pool = null;
        for (uint i = 0; i < count; i++)
        {
            for (Mbuf* m = mbufs[i]; m != null;)
            {
                Mbuf* next = m->Next;
                if (PrefreeSegment(m))
                {
                    var mp = (MempoolHeader*)m->Pool;
                    if (mp != pool || np == Batch)
                    {
                        if (np != 0) MempoolOps.Put(pool, pending, np);
                        pool = mp;
                        np = 0;
                    }
                    // SAFETY: np < Batch here (flushed just above when it reached Batch).
                    pending[np++] = m;
                }
                m = next;
            }
        }
        if (np != 0) MempoolOps.Put(pool, pending, np);
    }

    /// <summary>rte_mbuf_refcnt_update: adds <paramref name="delta"/> atomically and returns the new count.</summary>
    public static ushort RefCntUpdate(Mbuf* m, short delta)
    {
        // Sole owner (DPDK's shortcut): nobody else can be touching the count, a plain store is enough.
        if (m->RefCnt == 1)
        {
            ushort v = (ushort)(1 + delta);
            m->RefCnt = v;
            return v;
        }
        return AddRefCnt(m, delta);
    }

    /// <summary>The last owner of a segment gets true and must put it back in its pool; others get false.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool PrefreeSegment(Mbuf* m)
    {
        Debug.Assert(m->Pool != null && ((MempoolHeader*)m->Pool)->Magic == MempoolHeader.MagicValue);
        ushort rc = m->RefCnt;
        if (rc == 1)
        {
            // Sole owner: no other thread holds a reference, a plain store marks it free.
            m->RefCnt = 0;
            // An external buffer (EXTBUF dequeue) goes back to its owner first; the flag shares the line just read.
            if ((m->OlFlags & MbufOffload.ExtAttachedMbuf) != 0) ExtBuf.Detach(m);
            return true;
        }
        if (rc == 0)
        {
            CountBadFree(m);
            return false;
        }
        if (AddRefCnt(m, -1) != 0) return false;
        // We dropped the last reference; other holders have all decremented already.
        if ((m->OlFlags & MbufOffload.ExtAttachedMbuf) != 0) ExtBuf.Detach(m);
        return true;
    }

    /// <summary>Compare-exchange loop (there is no 16-bit Interlocked.Add). Full fence: a holder's writes to the
    /// packet happen before the last holder, who sees 0, recycles it.</summary>
    private static ushort AddRefCnt(Mbuf* m, short delta)
    {
        ref ushort rc = ref m->RefCnt;
        ushort seen = Volatile.Read(ref rc);
        while (true)
        {
            ushort next = (ushort)(seen + delta);
            ushort was = Interlocked.CompareExchange(ref rc, next, seen);
            if (was == seen) return next;
            seen = was;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CountBadFree(Mbuf* m) => Interlocked.Increment(ref ((MempoolHeader*)m->Pool)->BadFrees);

    /// <summary>Objects of <paramref name="mp"/> handed out and not yet returned (thread caches count as free).</summary>
    public static uint InUse(MempoolHeader* mp) => MempoolOps.InUse(mp);

    /// <summary>The managed <see cref="Mempool"/> that owns <paramref name="mp"/>, or null.</summary>
    public static Mempool? Owner(MempoolHeader* mp) => Mempool.FromHeader(mp);
}
