namespace HotPath.Engine.Vrings;

/// <summary>
/// The per-vring access lock of DESIGN.md: the datapath only try-takes it (a burst that finds it held returns 0);
/// the control plane takes it, waiting, to change the ring or the memory table under it.
/// Writer-preferring, like DPDK's rwlock with its WAIT bit: a control-plane waiter makes every new datapath
/// try-take fail, so the waiter gets the lock as soon as the burst in flight ends. Without that, a thread polling
/// the ring re-takes the lock immediately after each burst and a control thread that cannot spin on a core of its
/// own (one core, a loaded machine, valgrind) would starve.
/// Sits alone on its cache line so that two vrings driven by two cores never share one.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct VringAccessLock
{
    [FieldOffset(0)] private int _held;
    [FieldOffset(4)] private int _waiters;

    /// <summary>Datapath side: never waits; fails while held or while the control plane waits for it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryEnter() =>
        // Both words share one cache line; the waiter check costs a load of a line the CAS touches anyway. A waiter
        // that arrives just after this check loses one burst's worth of time at most: the next try-take sees it.
        Volatile.Read(ref _waiters) == 0 && Interlocked.CompareExchange(ref _held, 1, 0) == 0;

    /// <summary>Control-plane side: announces itself, then waits for the burst in flight (microseconds) to end.</summary>
    public void Enter()
    {
        Interlocked.Increment(ref _waiters);
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _held, 1, 0) != 0) spin.SpinOnce();
        Interlocked.Decrement(ref _waiters);
    }

    /// <summary>Release store: every ring write made under the lock is visible before the next holder enters.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Exit() => Volatile.Write(ref _held, 0);

    public readonly bool IsHeld => Volatile.Read(ref Unsafe.AsRef(in _held)) != 0;

    /// <summary>True while a control-plane caller waits for the lock (tests and diagnostics).</summary>
    public readonly bool HasWaiters => Volatile.Read(ref Unsafe.AsRef(in _waiters)) != 0;
}
