namespace HotPath.Engine.Stats;

/// <summary>
/// Why the datapath refused a descriptor chain or a packet. Each value is its own per-vring counter (see
/// <see cref="VringStats"/>); the chain behind it is returned to the guest as used with length 0 so the ring keeps
/// moving, and the next chain is processed. Values are stable: they index the counter table and the names table.
/// </summary>
public enum DropReason : byte
{
    None = 0,
    /// <summary>A head index or a next field is outside the descriptor table (SECURITY.md 11).</summary>
    DescIndexOutOfRange,
    /// <summary>More descriptors than the table holds: a loop or an over-long chain (SECURITY.md 11).</summary>
    ChainTooLong,
    /// <summary>Indirect table length 0 or not a multiple of 16 (SECURITY.md 12).</summary>
    IndirectBadLength,
    /// <summary>Indirect table with more entries than the ring size (SECURITY.md 12).</summary>
    IndirectTooLarge,
    /// <summary>INDIRECT flag inside an indirect table, or anywhere but on the head of a chain (SECURITY.md 12).</summary>
    IndirectNested,
    /// <summary>INDIRECT together with NEXT on the same descriptor (SECURITY.md 12).</summary>
    IndirectWithNext,
    /// <summary>Indirect table not inside one mapped region (SECURITY.md 12).</summary>
    IndirectOutsideMemory,
    /// <summary>A buffer address or length outside mapped memory, or wrapping around (SECURITY.md 13).</summary>
    BufferOutsideMemory,
    /// <summary>A chain needs more host pieces (descriptors plus region splits) than the vring's buffer vector.</summary>
    TooManySegments,
    /// <summary>Writable descriptor on a TX chain, or readable descriptor on an RX chain (SECURITY.md 14).</summary>
    WrongDirection,
    /// <summary>Chain shorter than the virtio-net header (or with no room at all for an RX packet) (SECURITY.md 15).</summary>
    ChainTooShort,
    /// <summary>virtio-net header asks for a checksum beyond the packet or GSO with gso_size 0 (SECURITY.md 15).</summary>
    BadNetHeader,
    /// <summary>TX packet larger than <see cref="Datapath.DatapathLimits.MaxPacketBytes"/>, or larger than one mbuf on a
    /// linear-buffer device without external buffers.</summary>
    PacketTooLarge,
    /// <summary>The mbuf pool ran dry while a packet was copied.</summary>
    NoMbuf,
    /// <summary>An external buffer for a large linear packet could not be allocated.</summary>
    ExtBufAllocFailed,
    /// <summary>The guest broke the ring (avail index jump); the ring is unusable until it is set up again.</summary>
    RingBroken,
    /// <summary>A packed-ring chain goes on (NEXT) into a descriptor the driver has not made available: the chain is
    /// returned up to there (SECURITY.md 17).</summary>
    ChainNotAvailable,
    /// <summary>VIRTIO_F_IOMMU_PLATFORM: the IOTLB maps a buffer, but not with the access the device needs (a write
    /// through a read-only mapping, a read through a write-only one).</summary>
    IotlbPermissionDenied,
}
