namespace HotPath.Engine.Buffers;

/// <summary>
/// <c>struct hp_mbuf_ext_shared_info</c> (DPDK's rte_mbuf_ext_shared_info): how an external buffer is released and
/// how many mbufs share it. Sits at the end of the buffer it describes.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct ExtBufSharedInfo
{
    /// <summary>void (*free_cb)(void *addr, void *opaque): called once the last mbuf lets go of the buffer.</summary>
    public delegate* unmanaged<void*, void*, void> FreeCb;
    public void* Opaque;
    public ushort RefCnt;
}

/// <summary>
/// External buffers (DPDK's EXTBUF support in rte_vhost_dequeue_burst): a packet larger than the pool's data room,
/// on a device registered with LINEARBUF and EXTBUF, is copied into one native buffer attached to the mbuf instead of
/// a chain of segments. Freeing the mbuf detaches it: the buffer is released when its last holder frees, and the
/// mbuf gets its own data room back (rte_pktmbuf_detach). Native memory, so the burst still allocates nothing on the
/// GC heap; only oversized packets take this path.
/// </summary>
public static unsafe class ExtBuf
{
    /// <summary>Largest buffer an mbuf can describe (buf_len is 16 bits).</summary>
    public const uint MaxBufLen = ushort.MaxValue;

    /// <summary>Buffers attached and released since start (all devices), for tests and stats.</summary>
    public static long Attached => Volatile.Read(ref _attached);
    public static long Released => Volatile.Read(ref _released);
    private static long _attached, _released;

    /// <summary>
    /// Attaches a new buffer with room for <paramref name="dataLen"/> bytes after the default headroom to
    /// <paramref name="m"/> (fresh from its pool, one segment, refcnt 1). False when it cannot be done (too large
    /// for an mbuf, or no memory): the mbuf is left as it was.
    /// </summary>
    public static bool AttachNew(Mbuf* m, uint dataLen)
    {
        // Layout as DPDK's virtio_dev_extbuf_alloc: headroom, data, then the shared info (8-byte aligned).
        ulong bufLen = Mbuf.DefaultHeadroom + (ulong)dataLen;
        ulong shOff = (bufLen + 7) & ~7UL;
        if (shOff > MaxBufLen) return false;
        byte* buf = (byte*)NativeMemory.AlignedAlloc((nuint)(shOff + (ulong)sizeof(ExtBufSharedInfo)), 64);
        if (buf == null) return false;
        var sh = (ExtBufSharedInfo*)(buf + shOff);
        sh->FreeCb = &FreeNative;
        sh->Opaque = null;
        sh->RefCnt = 1;
        m->BufAddr = buf;
        m->BufIova = (ulong)buf;
        m->BufLen = (ushort)bufLen;
        m->DataOff = Mbuf.DefaultHeadroom;
        m->ShInfo = sh;
        m->OlFlags |= MbufOffload.ExtAttachedMbuf;
        Interlocked.Increment(ref _attached);
        return true;
    }

    /// <summary>
    /// rte_pktmbuf_detach for a segment whose own refcnt just reached 0: drops its hold on the external buffer
    /// (releasing it when it was the last) and points the mbuf back at its own data room.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void Detach(Mbuf* m)
    {
        var sh = (ExtBufSharedInfo*)m->ShInfo;
        // The flag without a shared info (an application wrote ol_flags wholesale): nothing external to release.
        if (sh != null)
            ReleaseShared(m, sh);
        var mp = (MempoolHeader*)m->Pool;
        m->BufAddr = (byte*)m + Mbuf.HeaderSize;
        m->BufIova = (ulong)m->BufAddr;
        m->BufLen = mp->DataRoom;
        m->DataOff = mp->Headroom;
        m->ShInfo = null;
        m->OlFlags = 0;
    }

    private static void ReleaseShared(Mbuf* m, ExtBufSharedInfo* sh)
    {
        // Sole holder: a plain store suffices (DPDK's rte_mbuf_ext_refcnt_update shortcut); otherwise a full-fence
        // decrement, so every holder's use of the buffer happens before the last one frees it.
        if (sh->RefCnt == 1 || DecrementShared(sh) == 0)
        {
            sh->RefCnt = 0;
            sh->FreeCb(m->BufAddr, sh->Opaque);
            Interlocked.Increment(ref _released);
        }
    }

    private static ushort DecrementShared(ExtBufSharedInfo* sh)
    {
        ref ushort rc = ref sh->RefCnt;
        // There is no 16-bit Interlocked.Add: a compare-exchange loop (full fence on success).
        while (true)
        {
            ushort v = Volatile.Read(ref rc);
            if (Interlocked.CompareExchange(ref rc, (ushort)(v - 1), v) == v) return (ushort)(v - 1);
        }
    }

    [UnmanagedCallersOnly]
    private static void FreeNative(void* addr, void* opaque) => NativeMemory.AlignedFree(addr);
}
