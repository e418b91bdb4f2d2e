namespace HotPath.Engine.Vrings;

/// <summary>
/// A held vring access lock, released by <c>Dispose</c>: <c>using (vring.Hold()) { ... }</c> is the one way the
/// control plane changes a ring. A ref struct, so it cannot be boxed, stored or outlive the block that took it.
/// </summary>
public readonly ref struct VringLockScope
{
    private readonly Vring _ring;

    internal VringLockScope(Vring ring) => _ring = ring;

    public void Dispose() => _ring.AccessLock.Exit();
}

/// <summary>Every vring lock of a device held (<see cref="VhostDevice.HoldAll"/>): no burst runs until Dispose.</summary>
public readonly ref struct DeviceLockScope
{
    private readonly VhostDevice _device;

    internal DeviceLockScope(VhostDevice device) => _device = device;

    public void Dispose() => _device.UnlockAll();
}
