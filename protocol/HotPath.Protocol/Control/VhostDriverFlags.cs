namespace HotPath.Protocol.Control;

/// <summary>Driver registration flags (HP_VHOST_USER_*, values as DPDK's RTE_VHOST_USER_*).</summary>
[Flags]
public enum VhostDriverFlags : ulong
{
    None = 0,
    /// <summary>Connect to the frontend's socket instead of listening.</summary>
    Client = 1UL << 0,
    /// <summary>Client mode: do not reconnect after the connection drops.</summary>
    NoReconnect = 1UL << 1,
    /// <summary>Offer VIRTIO_F_IOMMU_PLATFORM (bit 33) and translate through an IOTLB the frontend fills (IOTLB_MSG),
    /// for split and packed rings.</summary>
    IommuSupport = 1UL << 3,
    /// <summary>Postcopy live migration: offer VHOST_USER_PROTOCOL_F_PAGEFAULT (POSTCOPY_ADVISE/LISTEN/END).</summary>
    PostcopySupport = 1UL << 4,
    /// <summary>Dequeue may attach an external buffer to a packet too large for one mbuf.</summary>
    ExtbufSupport = 1UL << 5,
    /// <summary>Dequeued packets must fit one mbuf (no segment chains).</summary>
    LinearbufSupport = 1UL << 6,
    /// <summary>(later) Asynchronous copies.</summary>
    AsyncCopy = 1UL << 7,
    /// <summary>Offload flags follow the mbuf API strictly (DPDK's NET_COMPLIANT_OL_FLAGS; HotPath always does).</summary>
    NetCompliantOlFlags = 1UL << 8,
    /// <summary>Collect per-vring statistics (packets, bytes, size buckets, notifications).</summary>
    NetStatsEnable = 1UL << 9,
    /// <summary>HotPath's own: refuse guest memory whose fd cannot be sealed against shrinking (see
    /// <see cref="VhostDriver.RequireSealedMemory"/>).</summary>
    RequireSealedMemory = 1UL << 32,
    /// <summary>HotPath's own: serve takeovers (hitless upgrade) on <see cref="VhostDriver.TakeoverPath"/>: a new
    /// process that starts the same path with <see cref="Takeover"/> gets this driver's running devices.</summary>
    TakeoverAllow = 1UL << 33,
    /// <summary>HotPath's own: <see cref="VhostDriver.Start"/> first takes the path's devices over from the process
    /// serving its takeover socket, and starts normally when there is none.</summary>
    Takeover = 1UL << 34,

    Known = Client | NoReconnect | IommuSupport | PostcopySupport | ExtbufSupport | LinearbufSupport | AsyncCopy |
        NetCompliantOlFlags | NetStatsEnable | RequireSealedMemory | TakeoverAllow | Takeover,
}
