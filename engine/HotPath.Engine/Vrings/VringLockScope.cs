namespace HotPath.Engine.Vrings;

/// <summary>
/// A held vring access lock, released by <c>Dispose</c>: <c>using (vring.Hold()) { ... }</c> is the one way the
/// control plane changes a ring. A ref struct, so it cannot be boxed, stored or outlive the block that took it.
/// It is also the proof the ring's configuration methods ask for (<c>in VringLockScope held</c>): a caller that has
/// none cannot call them. <see cref="DeviceLockScope.For"/> lends one for a ring whose lock a device scope holds.
/// </summary>
public readonly ref struct VringLockScope
{
    private readonly Vring _ring;
    private readonly bool _owns;

    internal VringLockScope(Vring ring, bool owns)
    {
        _ring = ring;
        _owns = owns;
    }

    /// <summary>True when this scope stands for <paramref name="ring"/>'s lock and the lock is held (asserts).</summary>
    internal bool Covers(Vring ring) => ReferenceEquals(_ring, ring) && ring.AccessLock.IsHeld;

    /// <summary>Releases the lock <see cref="Vring.Hold"/> took; a scope lent by a device scope releases nothing.</summary>
    public void Dispose()
    {
        if (_owns) _ring.AccessLock.Exit();
    }
}

/// <summary>Every vring lock of a device held (<see cref="VhostDevice.HoldAll"/>): no burst runs until Dispose.</summary>
public readonly ref struct DeviceLockScope
{
    private readonly VhostDevice _device;

    internal DeviceLockScope(VhostDevice device) => _device = device;

    /// <summary>
    /// The held lock of <paramref name="ring"/>, one of this device's rings, as the proof its configuration methods
    /// take. It does not release anything: this scope's Dispose does.
    /// </summary>
    public VringLockScope For(Vring ring)
    {
        Debug.Assert(ReferenceEquals(_device.GetVring(ring.Index), ring), "a ring of another device");
        return new VringLockScope(ring, owns: false);
    }

    public void Dispose() => _device.UnlockAll();
}
