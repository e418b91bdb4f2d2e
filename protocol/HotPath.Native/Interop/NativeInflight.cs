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
