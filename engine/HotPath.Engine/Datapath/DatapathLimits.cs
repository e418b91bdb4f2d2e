namespace HotPath.Engine.Datapath;

/// <summary>Bounds the datapath puts on what a guest may ask of it.</summary>
public static class DatapathLimits
{
    /// <summary>
    /// Largest TX packet (after the virtio-net header) dequeue accepts. A GSO packet is at most 64 KiB plus link
    /// headers; this leaves room for that and bounds the mbufs one hostile chain can consume.
    /// </summary>
    public const uint MaxPacketBytes = 256 * 1024;

    /// <summary>Host offload features under which a TX header's checksum/GSO requests are honoured (DPDK's
    /// virtio_net_with_host_offload).</summary>
    public const ulong HostOffloadFeatures =
        (1UL << VirtioFeatures.NetCsum) | (1UL << VirtioFeatures.NetHostEcn) | (1UL << VirtioFeatures.NetHostTso4) |
        (1UL << VirtioFeatures.NetHostTso6) | (1UL << VirtioFeatures.NetHostUfo);
}
