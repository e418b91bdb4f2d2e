namespace HotPath.Engine.Virtio;

/// <summary>
/// struct virtio_net_hdr_mrg_rxbuf (virtio 5.1.6): 12 bytes with VERSION_1 or MRG_RXBUF, otherwise the first 10.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 12)]
public struct VirtioNetHeader
{
    public byte Flags;
    public byte GsoType;
    public ushort HdrLen;
    public ushort GsoSize;
    public ushort CsumStart;
    public ushort CsumOffset;
    public ushort NumBuffers;

    public const byte FlagNeedsCsum = 1, FlagDataValid = 2, FlagRscInfo = 4;
    public const byte GsoNone = 0, GsoTcpV4 = 1, GsoUdp = 3, GsoTcpV6 = 4, GsoUdpL4 = 5, GsoEcn = 0x80;

    public const int LegacySize = 10;
    public const int MrgSize = 12;

    /// <summary>Header length the negotiated features call for.</summary>
    public static int SizeFor(ulong features) =>
        (features & ((1UL << VirtioFeatures.Version1) | (1UL << VirtioFeatures.NetMrgRxbuf))) != 0 ? MrgSize : LegacySize;
}
