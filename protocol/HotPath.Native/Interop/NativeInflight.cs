using System.Runtime.InteropServices;

namespace HotPath.Native.Interop;

/// <summary><c>struct hp_vhost_ring_inflight</c>: the vring's inflight queue region and its resubmit list.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeRingInflight
{
    /// <summary>struct hp_vhost_inflight_info_split * or _packed *.</summary>
    public void* Inflight;
    /// <summary>struct hp_vhost_resubmit_info *.</summary>
    public void* Resubmit;
}

/// <summary>The 32-byte header of <c>struct hp_vhost_inflight_info_packed</c> (DPDK's layout, as InflightRegion).</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
internal struct NativeInflightPackedHeader
{
    [FieldOffset(0)] public ulong Features;
    [FieldOffset(8)] public ushort Version;
    [FieldOffset(10)] public ushort DescNum;
    [FieldOffset(12)] public ushort FreeHead;
    [FieldOffset(14)] public ushort OldFreeHead;
    [FieldOffset(16)] public ushort UsedIdx;
    [FieldOffset(18)] public ushort OldUsedIdx;
    [FieldOffset(20)] public byte UsedWrapCounter;
    [FieldOffset(21)] public byte OldUsedWrapCounter;
}
