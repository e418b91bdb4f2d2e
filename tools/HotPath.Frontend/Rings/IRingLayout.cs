namespace HotPath.Frontend.Rings;

/// <summary>
/// Where a driver-side virtqueue lives in guest memory: what SET_VRING_NUM / SET_VRING_ADDR / SET_VRING_BASE
/// tell the backend. Split rings: descriptor table, avail ring (driver area), used ring (device area).
/// Packed rings: descriptor ring, driver event suppression area, device event suppression area.
/// </summary>
public interface IRingLayout
{
    uint Size { get; }
    bool Packed { get; }
    ulong DescGpa { get; }
    ulong DriverAreaGpa { get; }
    ulong DeviceAreaGpa { get; }

    /// <summary>Value for SET_VRING_BASE (split: next avail index; packed: index | wrap counter &lt;&lt; 15).</summary>
    uint BaseIndex { get; }
}
