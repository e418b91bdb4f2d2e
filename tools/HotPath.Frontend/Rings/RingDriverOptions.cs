using HotPath.Engine.Virtio;

namespace HotPath.Frontend.Rings;

/// <summary>
/// How a ring driver (<see cref="SplitRingDriver"/>, <see cref="PackedRingDriver"/>) is built: ring size, buffers, and
/// the negotiated features it honours.
/// </summary>
public sealed record RingDriverOptions
{
    /// <summary>Ring size (split: a power of two; packed: 1..32768).</summary>
    public uint Size { get; init; } = 256;
    /// <summary>Bytes of the guest buffer each descriptor (split) or buffer index (packed) owns.</summary>
    public uint BufferSize { get; init; } = 2048;
    /// <summary>Negotiated virtio features (header size, MRG_RXBUF joining, EVENT_IDX suppression).</summary>
    public ulong Features { get; init; } = VirtioFeatures.Bit(VirtioFeatures.Version1);
    /// <summary>Most entries of an indirect table (0: no indirect tables).</summary>
    public int MaxIndirect { get; init; } = 32;
    /// <summary>Region for the ring and buffers (-1: first with room).</summary>
    public int Region { get; init; } = -1;
    /// <summary>Also place one buffer across a region boundary (needs regions created with gap 0).</summary>
    public bool CrossingBuffer { get; init; }
    /// <summary>
    /// A guest behind an IOMMU whose mapping for the device is IOVA = guest physical address + this: what the driver
    /// writes into descriptors (buffer and indirect table addresses) is the IOVA (the frontend's IOTLB mode must map
    /// with the same offset, <see cref="VhostUser.NetDeviceOptions.IovaOffset"/>). 0: IOVA = GPA, or no IOMMU.
    /// </summary>
    public ulong IovaOffset { get; init; }

    public int HeaderSize => VirtioNetHeader.SizeFor(Features);
    public bool EventIdx => VirtioFeatures.Has(Features, VirtioFeatures.RingEventIdx);
    public bool Mergeable => VirtioFeatures.Has(Features, VirtioFeatures.NetMrgRxbuf);
}
