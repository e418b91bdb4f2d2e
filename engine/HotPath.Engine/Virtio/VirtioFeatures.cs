namespace HotPath.Engine.Virtio;

/// <summary>Virtio feature bits (device-independent and virtio-net), as bit numbers and masks.</summary>
public static class VirtioFeatures
{
    // virtio-net device features (virtio spec 5.1.3)
    public const int NetCsum = 0, NetGuestCsum = 1, NetCtrlGuestOffloads = 2, NetMtu = 3, NetMac = 5,
        NetGuestTso4 = 7, NetGuestTso6 = 8, NetGuestEcn = 9, NetGuestUfo = 10,
        NetHostTso4 = 11, NetHostTso6 = 12, NetHostEcn = 13, NetHostUfo = 14,
        NetMrgRxbuf = 15, NetStatus = 16, NetCtrlVq = 17, NetCtrlRx = 18, NetCtrlVlan = 19,
        NetGuestAnnounce = 21, NetMq = 22;

    // device-independent and vhost bits
    public const int NotifyOnEmpty = 24, LogAll = 26, AnyLayout = 27, RingIndirectDesc = 28, RingEventIdx = 29,
        ProtocolFeatures = 30, Version1 = 32, AccessPlatform = 33, RingPacked = 34, InOrder = 35;

    public static ulong Bit(int n) => 1UL << n;

    /// <summary>The net header offload bits HotPath understands (checksum and TSO/UFO in both directions).</summary>
    public const ulong NetOffloadMask =
        (1UL << NetCsum) | (1UL << NetGuestCsum) | (1UL << NetGuestTso4) | (1UL << NetGuestTso6) |
        (1UL << NetGuestEcn) | (1UL << NetGuestUfo) | (1UL << NetHostTso4) | (1UL << NetHostTso6) |
        (1UL << NetHostEcn) | (1UL << NetHostUfo);

    /// <summary>Everything HotPath's net backend can offer (DPDK's VIRTIO_NET_SUPPORTED_FEATURES plus packed).</summary>
    public const ulong NetSupported =
        (1UL << Version1) | (1UL << NetMrgRxbuf) | (1UL << RingIndirectDesc) | (1UL << RingEventIdx) |
        (1UL << RingPacked) | (1UL << AnyLayout) | (1UL << NetMq) | (1UL << NetCtrlVq) | (1UL << ProtocolFeatures) |
        (1UL << LogAll) | (1UL << NetMtu) | (1UL << NetStatus) | (1UL << NetGuestAnnounce) | (1UL << NotifyOnEmpty) |
        NetOffloadMask;

    /// <summary>
    /// What a virtio-crypto device offers (DPDK's VIRTIO_CRYPTO_FEATURES without its stray VIRTIO_NET_F_CTRL_VQ):
    /// split rings only, as the crypto request path handles split rings; LOG_ALL, as finalize logs what it writes
    /// (without it QEMU blocks migration).
    /// </summary>
    public const ulong CryptoSupported =
        (1UL << Version1) | (1UL << RingIndirectDesc) | (1UL << RingEventIdx) | (1UL << NotifyOnEmpty) | (1UL << LogAll) |
        (1UL << ProtocolFeatures);

    public static bool Has(ulong features, int bit) => (features & (1UL << bit)) != 0;

    /// <summary>Readable list of the bit names set in <paramref name="features"/>, for logs.</summary>
    public static string Describe(ulong features)
    {
        var names = new List<string>();
        for (int b = 0; b < 64; b++)
            if ((features & (1UL << b)) != 0) names.Add(Name(b));
        return string.Join('|', names);
    }

    public static string Name(int bit) => bit switch
    {
        NetCsum => "CSUM", NetGuestCsum => "GUEST_CSUM", NetCtrlGuestOffloads => "CTRL_GUEST_OFFLOADS",
        NetMtu => "MTU", NetMac => "MAC", NetGuestTso4 => "GUEST_TSO4", NetGuestTso6 => "GUEST_TSO6",
        NetGuestEcn => "GUEST_ECN", NetGuestUfo => "GUEST_UFO", NetHostTso4 => "HOST_TSO4",
        NetHostTso6 => "HOST_TSO6", NetHostEcn => "HOST_ECN", NetHostUfo => "HOST_UFO",
        NetMrgRxbuf => "MRG_RXBUF", NetStatus => "STATUS", NetCtrlVq => "CTRL_VQ", NetCtrlRx => "CTRL_RX",
        NetCtrlVlan => "CTRL_VLAN", NetGuestAnnounce => "GUEST_ANNOUNCE", NetMq => "MQ",
        NotifyOnEmpty => "NOTIFY_ON_EMPTY", LogAll => "LOG_ALL", AnyLayout => "ANY_LAYOUT",
        RingIndirectDesc => "INDIRECT_DESC", RingEventIdx => "EVENT_IDX", ProtocolFeatures => "PROTOCOL_FEATURES",
        Version1 => "VERSION_1", AccessPlatform => "ACCESS_PLATFORM", RingPacked => "RING_PACKED",
        InOrder => "IN_ORDER", _ => "bit" + bit,
    };
}
