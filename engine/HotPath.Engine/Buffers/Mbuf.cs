namespace HotPath.Engine.Buffers;

/// <summary>
/// <c>struct hp_mbuf</c>: a packet buffer segment in native memory, laid out like DPDK's rte_mbuf (two cache lines,
/// the fields the datapath touches on the first). The C header declares the same layout; a test pins every offset.
/// Packet data of a segment starts at <c>BufAddr + DataOff</c>.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
public unsafe struct Mbuf
{
    [FieldOffset(0)] public byte* BufAddr;
    [FieldOffset(8)] public ulong BufIova;
    [FieldOffset(16)] public ushort DataOff;
    [FieldOffset(18)] public ushort RefCnt;
    [FieldOffset(20)] public ushort NbSegs;
    [FieldOffset(22)] public ushort Port;
    [FieldOffset(24)] public ulong OlFlags;
    [FieldOffset(32)] public uint PacketType;
    [FieldOffset(36)] public uint PktLen;
    [FieldOffset(40)] public ushort DataLen;
    [FieldOffset(42)] public ushort VlanTci;
    [FieldOffset(44)] public ushort BufLen;
    [FieldOffset(46)] public ushort VlanTciOuter;
    /// <summary>union { uint32_t rss; uint64_t u64; } hash.</summary>
    [FieldOffset(48)] public ulong Hash;
    [FieldOffset(56)] public void* Pool;
    // ---- second cache line ----
    [FieldOffset(64)] public Mbuf* Next;
    /// <summary>l2_len:7 l3_len:9 l4_len:8 tso_segsz:16 (rte_mbuf's tx_offload bitfield).</summary>
    [FieldOffset(72)] public ulong TxOffload;
    /// <summary>External buffer shared info when the data lives outside the mbuf (EXTBUF); null otherwise.</summary>
    [FieldOffset(80)] public void* ShInfo;
    [FieldOffset(88)] public ushort PrivSize;
    [FieldOffset(90)] public ushort Timesync;
    [FieldOffset(92)] public uint Reserved;
    [FieldOffset(96)] public fixed ulong Dynfield[4];

    public const int HeaderSize = 128;
    /// <summary>Default headroom before packet data (RTE_PKTMBUF_HEADROOM).</summary>
    public const ushort DefaultHeadroom = 128;

    /// <summary>First byte of this segment's packet data.</summary>
    public readonly byte* Data
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => BufAddr + DataOff;
    }

    /// <summary>Bytes free after the data of this segment.</summary>
    public readonly int TailRoom => BufLen - DataOff - DataLen;
}

/// <summary>Offload flags in <see cref="Mbuf.OlFlags"/> (values as DPDK's RTE_MBUF_F_*).</summary>
public static class MbufOffload
{
    public const ulong RxL4CksumBad = 1UL << 3, RxIpCksumBad = 1UL << 4, RxIpCksumGood = 1UL << 7,
        RxL4CksumGood = 1UL << 8, RxL4CksumNone = (1UL << 3) | (1UL << 8), RxLro = 1UL << 16;
    public const ulong TxTcpSeg = 1UL << 50, TxUdpSeg = 1UL << 42, TxTcpCksum = 1UL << 52,
        TxSctpCksum = 2UL << 52, TxUdpCksum = 3UL << 52, TxL4Mask = 3UL << 52,
        TxIpCksum = 1UL << 54, TxIpv4 = 1UL << 55, TxIpv6 = 1UL << 56;
    public const ulong ExtAttachedMbuf = 1UL << 61;

    /// <summary>Packs rte_mbuf's tx_offload bitfields.</summary>
    public static ulong TxOffload(int l2, int l3, int l4, int tsoSegSize) =>
        (uint)(l2 & 0x7F) | ((ulong)(uint)(l3 & 0x1FF) << 7) | ((ulong)(uint)(l4 & 0xFF) << 16) | ((ulong)(uint)(tsoSegSize & 0xFFFF) << 24);

    public static int L2Len(ulong txOffload) => (int)(txOffload & 0x7F);
    public static int L3Len(ulong txOffload) => (int)((txOffload >> 7) & 0x1FF);
    public static int L4Len(ulong txOffload) => (int)((txOffload >> 16) & 0xFF);
    public static int TsoSegSize(ulong txOffload) => (int)((txOffload >> 24) & 0xFFFF);
}
