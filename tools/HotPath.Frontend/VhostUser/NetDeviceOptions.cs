using HotPath.Engine.Virtio;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>How <see cref="VhostUserFrontend.Negotiate"/> brings up a virtio-net device.</summary>
public sealed record NetDeviceOptions
{
    /// <summary>VERSION_1 and mergeable RX buffers: what virtio-user and Linux's virtio-net ask of a vhost-user backend.</summary>
    public const ulong DefaultFeatures = (1UL << VirtioFeatures.Version1) | (1UL << VirtioFeatures.NetMrgRxbuf);

    /// <summary>Protocol features the frontend implements (and asks for by default).</summary>
    public const ulong FrontendProtocolFeatures = ProtocolFeatures.Supported;

    public static readonly NetDeviceOptions Default = new();

    /// <summary>
    /// Virtio features the driver would like; intersected with the backend's offer. RING_PACKED follows the ring
    /// layout given to Start (added for packed rings, removed for split), MQ is added when there is more than one
    /// queue pair, and VHOST_USER_F_PROTOCOL_FEATURES is acked whenever offered.
    /// </summary>
    public ulong WantedFeatures { get; init; } = DefaultFeatures;

    /// <summary>Protocol features the frontend would like; intersected with the backend's offer.</summary>
    public ulong WantedProtocolFeatures { get; init; } = FrontendProtocolFeatures;

    /// <summary>Set up the backend-request channel (SET_BACKEND_REQ_FD); fails when BACKEND_REQ is not offered.</summary>
    public bool BackendChannel { get; init; }

    /// <summary>
    /// IOTLB mode: the frontend plays the guest's IOMMU. It acks VIRTIO_F_IOMMU_PLATFORM, sends ring addresses as IOVAs
    /// (IOVA = guest physical address + <see cref="IovaOffset"/>) and fills the backend's IOTLB with
    /// <see cref="VhostUserFrontend.IotlbUpdate"/> / <see cref="VhostUserFrontend.IotlbInvalidate"/>, answering its misses
    /// with <see cref="VhostUserFrontend.ServeIotlbMisses"/>. Needs <see cref="BackendChannel"/>.
    /// </summary>
    public bool Iommu { get; init; }

    /// <summary>
    /// IOTLB mode: IOVA = guest physical address + this, for the ring addresses and the mappings this frontend sends
    /// (<see cref="VhostUserFrontend.Iova"/>). 0 keeps IOVA = GPA; another value catches a backend that mixes the two
    /// up (dirty logging must mark guest physical pages). The ring drivers must write descriptors with the same
    /// offset (<see cref="Rings.RingDriverOptions.IovaOffset"/>).
    /// </summary>
    public ulong IovaOffset { get; init; }

    /// <summary>Also create an error eventfd per vring and send it with SET_VRING_ERR (QEMU does; virtio-user does not).</summary>
    public bool ErrorFds { get; init; }

    /// <summary>
    /// Share an inflight area with the backend at every start (INFLIGHT_SHMFD; see <see cref="VhostUserFrontend.Inflight"/>),
    /// so a backend that restarts can resubmit what it had not finished.
    /// </summary>
    public bool TrackInflight { get; init; }
}
