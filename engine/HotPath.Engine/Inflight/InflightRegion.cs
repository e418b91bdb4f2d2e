using HotPath.Engine.Interop;
using HotPath.Engine.Memory;

namespace HotPath.Engine.Inflight;

/// <summary>
/// The inflight I/O tracking region of INFLIGHT_SHMFD (vhost-user spec "Inflight I/O tracking"), one queue region per
/// vring, with DPDK's layout (rte_vhost_inflight_info_split / _packed, each padded to 64 bytes):
/// split: 16-byte header {u64 features, u16 version, u16 desc_num, u16 last_batch_head, u16 used_idx} + 16-byte
/// descriptors; packed: 32-byte header + 32-byte descriptors. The backend creates it on GET_INFLIGHT_FD; the
/// frontend keeps the fd and hands it back with SET_INFLIGHT_FD after a backend restart.
/// </summary>
public sealed unsafe class InflightRegion : IDisposable
{
    public const int SplitHeaderSize = 16, SplitDescSize = 16;
    public const int PackedHeaderSize = 32, PackedDescSize = 32;
    public const int Alignment = 64;
    /// <summary>The layout version a backend writes into a queue region it starts tracking (0: never used).</summary>
    public const ushort Version = 1;
    /// <summary>Most queues and entries a region may describe (bounded before they index anything).</summary>
    public const int MaxQueues = 256, MaxQueueSize = 32768;

    private readonly FdMapping _mapping;

    public ushort NumQueues { get; }
    public ushort QueueSize { get; }
    public bool Packed { get; }
    public ulong QueueRegionSize { get; }
    public byte* Base => _mapping.Base;
    public ulong Size => _mapping.Size;
    public int Fd => _mapping.Fd;
    public ulong MmapOffset => _mapping.Offset;

    private InflightRegion(FdMapping m, ushort numQueues, ushort queueSize, bool packed)
    {
        _mapping = m;
        NumQueues = numQueues;
        QueueSize = queueSize;
        Packed = packed;
        QueueRegionSize = PerQueueSize(queueSize, packed);
    }

    /// <summary>Bytes of one queue's region, 64-byte aligned.</summary>
    public static ulong PerQueueSize(ushort queueSize, bool packed)
    {
        ulong raw = packed
            ? PackedHeaderSize + (ulong)PackedDescSize * queueSize
            : SplitHeaderSize + (ulong)SplitDescSize * queueSize;
        return (raw + Alignment - 1) & ~(ulong)(Alignment - 1);
    }

    public static bool ValidCounts(ushort numQueues, ushort queueSize) =>
        numQueues > 0 && numQueues <= MaxQueues && queueSize > 0 && queueSize <= MaxQueueSize;

    /// <summary>GET_INFLIGHT_FD: a fresh zeroed memfd region, initialised as DPDK does. Returns 0 or -errno.</summary>
    public static int TryCreate(ushort numQueues, ushort queueSize, bool packed, out InflightRegion? region)
    {
        region = null;
        if (!ValidCounts(numQueues, queueSize)) return -LibC.EINVAL;
        ulong size = PerQueueSize(queueSize, packed) * numQueues;
        int fd = LibC.MemfdCreate("hotpath-inflight", (long)size);
        if (fd < 0) return fd;
        if (FdMapping.TryMap(fd, size, 0, out FdMapping? m) != MemoryError.None)
        {
            LibC.close(fd);
            return -LibC.ENOMEM;
        }
        region = new InflightRegion(m!, numQueues, queueSize, packed);
        region.Initialise();
        return 0;
    }

    /// <summary>SET_INFLIGHT_FD: maps a region the frontend kept. On success it owns <paramref name="fd"/>.</summary>
    public static MemoryError TryMap(int fd, ulong mmapSize, ulong mmapOffset, ushort numQueues, ushort queueSize,
        bool packed, out InflightRegion? region)
    {
        region = null;
        if (!ValidCounts(numQueues, queueSize)) return MemoryError.ZeroSize;
        ulong needed = PerQueueSize(queueSize, packed) * numQueues;
        if (mmapSize < needed) return MemoryError.FdTooSmall;
        MemoryError e = FdMapping.TryMap(fd, mmapSize, mmapOffset, out FdMapping? m);
        if (e != MemoryError.None) return e;
        region = new InflightRegion(m!, numQueues, queueSize, packed);
        return MemoryError.None;
    }

    /// <summary>Start of queue <paramref name="index"/>'s region, or null when out of range.</summary>
    public byte* Queue(int index) => (uint)index < NumQueues ? Base + QueueRegionSize * (ulong)index : null;

    /// <summary>
    /// A fresh region as DPDK's GET_INFLIGHT_FD leaves it: zeroed, desc_num set, and for packed rings both wrap
    /// counters 1 and every entry on the free list. The version stays 0 ("never used") until a vring starts on it;
    /// a region that comes back with version 1 is one a previous backend tracked into.
    /// </summary>
    private void Initialise()
    {
        new Span<byte>(Base, checked((int)Size)).Clear();
        for (int q = 0; q < NumQueues; q++)
        {
            byte* r = Queue(q);
            if (!Packed)
            {
                ((InflightSplitHeader*)r)->DescNum = QueueSize;
                continue;
            }
            var h = (InflightPackedHeader*)r;
            h->DescNum = QueueSize;
            h->UsedWrapCounter = 1;
            h->OldUsedWrapCounter = 1;
            var d = (InflightPackedDesc*)(r + PackedHeaderSize);
            for (int i = 0; i < QueueSize; i++) d[i].Next = (ushort)(i + 1);
        }
    }

    public void Dispose() => _mapping.Dispose();
}
