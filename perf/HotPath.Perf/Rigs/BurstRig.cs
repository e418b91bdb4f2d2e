using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Direct;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;

namespace HotPath.Perf.Rigs;

/// <summary>
/// One in-process device (<see cref="Loopback"/> / <see cref="PackedLoopback"/>: DirectAttach over memfd guest
/// memory) with the HotPath frontend's ring drivers, driven one burst of <see cref="Burst"/> packets at a time.
/// Each operation includes the frontend's share (posting, publishing, reaping), as a guest would do it; the
/// device's burst is the rest. Nothing here allocates after construction.
/// </summary>
public sealed unsafe class BurstRig : IDisposable
{
    public const int Burst = 32;
    private const int TxQueue = 1, RxQueue = 0;

    private readonly IDisposable _loopback;
    private readonly FrontendDirtyLog? _log;
    private readonly Mempool _pool;
    private readonly IRingDriver _tx, _rx;
    private readonly byte[] _header, _packet, _received;
    private readonly TxShape _txShape;
    private readonly RxLayout _rxLayout;
    private readonly uint _rxLen;
    private readonly nint* _mbufs;
    private readonly nint* _held;

    public VhostDevice Device { get; }

    /// <summary>A rig for packets of <paramref name="length"/> bytes. <paramref name="indirectTx"/> posts TX packets
    /// inside indirect tables; <paramref name="logging"/> negotiates LOG_ALL and installs a dirty log;
    /// <paramref name="iotlb"/> negotiates IOMMU_PLATFORM with an IOTLB mapping all guest memory (IOVA = GPA).</summary>
    public BurstRig(RingKind ring, int length, RxLayout rx = RxLayout.Mergeable, bool indirectTx = false,
        bool logging = false, bool stats = false, bool iotlb = false)
    {
        ulong features = VirtioFeatures.Bit(VirtioFeatures.Version1) | VirtioFeatures.Bit(VirtioFeatures.RingIndirectDesc);
        if (iotlb) features |= VirtioFeatures.Bit(VirtioFeatures.AccessPlatform);
        if (rx == RxLayout.Mergeable) features |= VirtioFeatures.Bit(VirtioFeatures.NetMrgRxbuf);
        if (logging) features |= VirtioFeatures.Bit(VirtioFeatures.LogAll);
        // Each descriptor owns a buffer big enough for the largest packet, so any layout fits in one.
        uint bufferSize = (uint)Math.Max(2048, length + 64);
        if (ring == RingKind.Packed)
        {
            var lb = new PackedLoopback(features, ringSize: 512, bufferSize: bufferSize);
            (_loopback, Device, _tx, _rx) = (lb, lb.Device, lb.Tx[0], lb.Rx[0]);
            if (logging) _log = EnableLog(lb.Attach, lb.Memory);
        }
        else
        {
            var lb = new Loopback(features, ringSize: 512, bufferSize: bufferSize);
            (_loopback, Device, _tx, _rx) = (lb, lb.Device, lb.Tx[0], lb.Rx[0]);
            if (logging) _log = EnableLog(lb.Attach, lb.Memory);
        }
        Device.StatsEnabled = stats;
        _pool = Mempool.Create($"bench{Interlocked.Increment(ref s_seq)}", 4096, 64, Mbuf.DefaultHeadroom + 2048, MempoolFlags.NoHuge);
        _header = new byte[_tx.HeaderSize];
        _packet = new byte[length];
        new Random(length).NextBytes(_packet);
        _received = new byte[length + 64];
        _txShape = indirectTx ? new TxShape(Indirect: true) : TxShape.Single;
        _rxLayout = rx;
        _rxLen = rx == RxLayout.Mergeable ? 2048u : (uint)(length + _tx.HeaderSize);
        _mbufs = (nint*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(Burst, (nuint)sizeof(nint));
        _held = (nint*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(Burst, (nuint)sizeof(nint));
        // The packets enqueue benchmarks send: one dequeued burst, kept (multi-segment past 2 KiB, as DPDK's).
        if (DequeueInto(_held) != Burst) throw new InvalidOperationException("the rig could not dequeue its first burst");
    }

    private static int s_seq;

    private static FrontendDirtyLog EnableLog(DirectAttach attach, FrontendMemory memory)
    {
        var log = new FrontendDirtyLog(memory.Regions.Max(r => r.GuestPhysAddr + r.Size));
        attach.SetLogBase(log);
        if (!attach.Device.Logging) throw new InvalidOperationException("the device is not logging");
        return log;
    }

    /// <summary>Guest TX → device: posts a burst, dequeues it into mbufs, frees them, reaps the used entries.</summary>
    public int DequeueRound()
    {
        int n = DequeueInto(_mbufs);
        MbufOps.FreeBulk((Mbuf**)_mbufs, (uint)n);
        return n;
    }

    private int DequeueInto(nint* mbufs)
    {
        for (int k = 0; k < Burst; k++) _tx.PostTx(_header, _packet, _txShape);
        _tx.Publish();
        int n = Device.DequeueBurst(TxQueue, _pool.Header, (Mbuf**)mbufs, Burst);
        _tx.ReapTx();
        return n;
    }

    /// <summary>Device → guest RX: posts buffers for a burst, enqueues the held packets, receives them.</summary>
    public int EnqueueRound()
    {
        int buffers = _rxLayout == RxLayout.Mergeable ? Burst * (int)((_packet.Length + _header.Length + 2047) / 2048) : Burst;
        for (int k = 0; k < buffers; k++)
            _rx.PostRx(_rxLen, _rxLayout == RxLayout.Indirect ? 2 : 1, _rxLayout == RxLayout.Indirect);
        _rx.Publish();
        int n = Device.EnqueueBurst(RxQueue, (Mbuf**)_held, Burst);
        while (_rx.TryReceive(_received, out _)) { }
        return n;
    }

    public void Dispose()
    {
        MbufOps.FreeBulk((Mbuf**)_held, Burst);
        System.Runtime.InteropServices.NativeMemory.Free(_mbufs);
        System.Runtime.InteropServices.NativeMemory.Free(_held);
        _loopback.Dispose();
        _log?.Dispose();
        _pool.Dispose();
    }
}
