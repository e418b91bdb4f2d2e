using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace HotPath.Engine.Vrings;

/// <summary>
/// The per-vring access lock of DESIGN.md: the datapath only try-takes it (a burst that finds it held returns 0);
/// the control plane takes it, spinning, to change the ring or the memory table under it.
/// Sits alone on its cache line so that two vrings driven by two cores never share one.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct VringAccessLock
{
    [FieldOffset(0)] private int _held;

    /// <summary>Datapath side: one compare-exchange, never waits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryEnter() => Interlocked.CompareExchange(ref _held, 1, 0) == 0;

    /// <summary>Control-plane side: waits for the running burst (microseconds) to finish.</summary>
    public void Enter()
    {
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _held, 1, 0) != 0) spin.SpinOnce();
    }

    /// <summary>Release store: every ring write made under the lock is visible before the next holder enters.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Exit() => Volatile.Write(ref _held, 0);

    public readonly bool IsHeld => Volatile.Read(ref Unsafe.AsRef(in _held)) != 0;
}
