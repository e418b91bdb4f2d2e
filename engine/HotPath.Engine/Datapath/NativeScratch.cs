namespace HotPath.Engine.Datapath;

/// <summary>
/// Owner of one vring's native working block (<see cref="SplitScratch"/>, <see cref="PackedScratch"/>, an async queue's arrays): allocated
/// once when the ring is set up, 64-byte aligned and zeroed, freed on dispose or by the finalizer.
/// </summary>
internal abstract unsafe class NativeScratch : IDisposable
{
    private byte* _block;
    private nuint _bytes;
    private static long s_liveBytes;

    /// <summary>Bytes of every block allocated and not freed yet, process-wide (the leak checks of the lifecycle tests).</summary>
    public static long LiveBytes => Interlocked.Read(ref s_liveBytes);

    /// <summary>Allocates the block (called once, from the derived constructor).</summary>
    protected byte* Allocate(nuint bytes)
    {
        _block = (byte*)NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(_block, bytes);
        _bytes = bytes;
        Interlocked.Add(ref s_liveBytes, (long)bytes);
        return _block;
    }

    /// <summary><paramref name="n"/> rounded up to whole cache lines, so each array starts on its own.</summary>
    protected static nuint Align(nuint n) => (n + 63) & ~(nuint)63;

    ~NativeScratch() => Free();

    private void Free()
    {
        if (_block == null) return;
        NativeMemory.AlignedFree(_block);
        _block = null;
        Interlocked.Add(ref s_liveBytes, -(long)_bytes);   // the finalizer thread too
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }
}
