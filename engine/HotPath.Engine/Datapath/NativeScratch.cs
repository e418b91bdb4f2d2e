namespace HotPath.Engine.Datapath;

/// <summary>
/// Owner of one vring's native working block (<see cref="SplitScratch"/>, <see cref="PackedScratch"/>): allocated
/// once when the ring is set up, 64-byte aligned and zeroed, freed on dispose or by the finalizer.
/// </summary>
internal abstract unsafe class NativeScratch : IDisposable
{
    private byte* _block;

    /// <summary>Allocates the block (called once, from the derived constructor).</summary>
    protected byte* Allocate(nuint bytes)
    {
        _block = (byte*)NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(_block, bytes);
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
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }
}
