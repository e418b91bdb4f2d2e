using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Tests.Datapath;

namespace HotPath.Tests.Migration;

/// <summary>
/// The guest side of one virtio-net queue pair in memfd guest memory: split- or packed-ring drivers for RX (vring 0)
/// and TX (vring 1) that send numbered packets and check what comes back. The drivers throw on a used entry for a
/// descriptor that was not in flight, so a descriptor completed twice never goes unnoticed.
/// </summary>
internal sealed class GuestTraffic : IDisposable
{
    public const ulong Features = NetDeviceOptions.DefaultFeatures;

    public FrontendMemory Memory { get; }
    public RingDriver Rx { get; }
    public RingDriver Tx { get; }
    public IReadOnlyList<RingAreas> Rings { get; }

    private readonly byte[] _buf = new byte[16384];
    private readonly byte[] _hdr;
    private ulong _seq;

    /// <summary>Packets posted on TX, and packets received intact on RX.</summary>
    public long Sent, Received;

    /// <summary>When set, every received sequence number must be new (a packet delivered twice fails).</summary>
    public HashSet<ulong>? ReceivedSeqs;

    /// <summary>Called with (descriptor id, used length) for every RX used entry before it is consumed.</summary>
    public Action<uint, uint>? OnRxUsed;

    /// <summary>Bytes of each RX buffer the guest posts.</summary>
    public uint RxBuffer { get; }

    /// <summary>TX packets are a header descriptor and two data descriptors behind an indirect table, RX buffers two
    /// descriptors behind one.</summary>
    public bool Indirect { get; }

    private readonly TxShape _txShape;

    /// <param name="features">The virtio features the rings honour (header size, MRG_RXBUF); negotiate the same.</param>
    /// <param name="iovaOffset">Descriptors carry guest physical address + this (a guest behind an IOMMU; see
    /// <see cref="NetDeviceOptions.IovaOffset"/>).</param>
    public GuestTraffic(ulong[]? regionSizes = null, uint ringSize = 256, bool packed = false, ulong features = Features,
        uint rxBuffer = 2048, bool indirect = false, ulong iovaOffset = 0)
    {
        Memory = FrontendMemory.Create(regionSizes ?? new ulong[] { 32 << 20 });
        var o = new RingDriverOptions { Size = ringSize, BufferSize = 2048, Features = features, Region = 0, IovaOffset = iovaOffset };
        Rx = packed ? new PackedRingDriver(Memory, o) : new SplitRingDriver(Memory, o);
        Tx = packed ? new PackedRingDriver(Memory, o) : new SplitRingDriver(Memory, o);
        Rings = new[] { Rx.Areas, Tx.Areas };
        _hdr = new byte[Rx.HeaderSize];
        RxBuffer = rxBuffer;
        Indirect = indirect;
        _txShape = indirect ? new TxShape(SeparateHeader: true, DataDescriptors: 2, Indirect: true) : TxShape.Single;
        FillRx();
        Rx.Publish();
    }

    private void FillRx() => Rx.FillRx(RxBuffer, Indirect ? 2 : 1, Indirect);

    /// <summary>Posts up to <paramref name="packets"/> numbered TX packets and publishes them; returns how many.</summary>
    public int Send(int packets, Func<ulong, int> size)
    {
        int n = 0;
        for (; n < packets; n++)
        {
            int len = size(_seq);
            Payload.Fill(_buf.AsSpan(0, len), _seq);
            if (!Tx.PostTx(_hdr, _buf.AsSpan(0, len), _txShape)) break;
            _seq++;
        }
        Sent += n;
        Tx.Publish();
        return n;
    }

    /// <summary>Reaps TX completions, receives and checks every RX packet, and reposts RX buffers. Returns packets received.</summary>
    public int Collect()
    {
        Tx.ReapTx();
        if (OnRxUsed != null)
        {
            var rx = (SplitRingDriver)Rx;   // split rings only
            for (ushort i = rx.LastUsed; i != rx.UsedIdx; i++)
            {
                var e = rx.RawUsed(i);
                OnRxUsed(e.Id, e.Len);
            }
        }
        int got = 0;
        while (Rx.TryReceive(_buf, out RxInfo info))
        {
            if (info.UsedLen == 0) continue;
            ulong seq = Payload.Seq(_buf);
            if (!Payload.Matches(_buf.AsSpan(0, info.Length), seq)) throw new InvalidDataException($"packet {seq} arrived corrupted");
            if (seq >= _seq) throw new InvalidDataException($"packet {seq} was never sent");
            if (ReceivedSeqs != null && !ReceivedSeqs.Add(seq)) throw new InvalidDataException($"packet {seq} was delivered twice");
            got++;
        }
        Received += got;
        FillRx();
        Rx.Publish();
        return got;
    }

    /// <summary>True when the device has published a used entry on TX that was not reaped yet.</summary>
    public bool TxUsedWaiting => Tx is SplitRingDriver s ? s.UsedIdx != s.LastUsed : ((PackedRingDriver)Tx).PeekUsed().Count != 0;

    /// <summary>
    /// How far the device has returned <paramref name="d"/>'s buffers, as GET_VRING_BASE reports a position once
    /// everything was reaped: split used.idx, packed the next used slot | wrap &lt;&lt; 15.
    /// </summary>
    public static ushort UsedPosition(RingDriver d) =>
        d is SplitRingDriver s ? s.UsedIdx : PackedRingLayout.Position(((PackedRingDriver)d).LastUsed, ((PackedRingDriver)d).UsedWrap);

    public void Dispose()
    {
        Rx.Dispose();
        Tx.Dispose();
        Memory.Dispose();
    }
}
