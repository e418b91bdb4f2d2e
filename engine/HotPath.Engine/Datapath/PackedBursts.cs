using HotPath.Engine.Buffers;
using HotPath.Engine.Memory;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Where the packed-ring datapath plugs into <see cref="VhostDevice"/>'s bursts and ring queries: the bursts
/// (<see cref="PackedEnqueue"/>, <see cref="PackedDequeue"/>), the available-chain count behind
/// rte_vhost_avail_entries / rx_queue_count, and the explicit guest notification of rte_vhost_vring_call. The
/// caller holds the vring's access lock.
/// </summary>
internal static unsafe class PackedBursts
{
    public static ushort Enqueue(VhostDevice dev, Vring vq, GuestMemory mem, Mbuf** pkts, uint count) =>
        PackedEnqueue.Run(dev, vq, mem, pkts, count);

    public static ushort Dequeue(VhostDevice dev, Vring vq, GuestMemory mem, MempoolHeader* pool, Mbuf** pkts, uint count) =>
        PackedDequeue.Run(dev, vq, mem, pool, pkts, count);

    /// <summary>Chains the driver has made available and the device has not taken yet (at most the ring size).</summary>
    public static uint AvailableChains(Vring vq) =>
        PackedRing.CountAvailableChains(vq.Desc, vq.Size, new PackedCursor(vq.LastAvailIdx, PackedRingLayout.AvailPattern(vq.AvailWrapCounter)));

    /// <summary>Notifies the driver about the used descriptors published so far, as a burst would (suppression honoured).</summary>
    public static void Call(VhostDevice dev, Vring vq) =>
        PackedUsedRing.NotifyIfWanted(dev, vq, vq.PackedUsedPosition, VirtioFeatures.Has(dev.Features, VirtioFeatures.RingEventIdx));
}
