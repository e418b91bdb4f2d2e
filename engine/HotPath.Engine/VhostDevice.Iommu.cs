using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Engine.Iommu;
using HotPath.Engine.Memory;
using HotPath.Engine.Vrings;

namespace HotPath.Engine;

/// <summary>
/// VIRTIO_F_IOMMU_PLATFORM: the device's IOTLB, its views for the bursts, the misses it asks the frontend for, and
/// the ring translation that goes through it. Every change happens with every vring's access lock held, so a burst
/// sees the IOTLB (and the rings translated through it) either before or after a message, never half-way; an
/// invalidation's reply is sent after it returns, so nothing is accessed through a mapping once its invalidation is
/// acknowledged.
/// </summary>
public sealed unsafe partial class VhostDevice
{
    /// <summary>The IOTLB (filled by IOTLB_MSG UPDATE, emptied by INVALIDATE and by memory-table changes).</summary>
    public IotlbCache Iotlb { get; } = new();

    /// <summary>Misses waiting for the frontend's update; the control plane sets <see cref="IotlbMisses.Sink"/>.</summary>
    public IotlbMisses IotlbMisses { get; } = new();

    /// <summary>True when VIRTIO_F_IOMMU_PLATFORM (ACCESS_PLATFORM) was negotiated: guest addresses are IOVAs.</summary>
    public bool IotlbActive => VirtioFeatures.Has(Features, VirtioFeatures.AccessPlatform);

    /// <summary>The views the IOTLB bursts translate through; non-null exactly while <see cref="IotlbActive"/>.</summary>
    internal IotlbViews? IotlbViews { get; private set; }

    /// <summary>
    /// The memory table the inline bursts translate guest physical addresses through: <see cref="Memory"/>, or null
    /// while the IOTLB is active, which sends every burst to the IOTLB path from the null check the burst entry makes
    /// anyway (no extra test on the IOTLB-off fast path).
    /// </summary>
    private GuestMemory? _burstMemory;

    /// <summary>An enqueue burst under the IOTLB (<see cref="EnqueueBurst(int, Mbuf**, ushort)"/> found no burst memory).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ushort EnqueueIotlb(Vring vq, IotlbViews views, Mbuf** pkts, ushort count)
    {
        // An idle poll ends here, as on the IOTLB-off path (the translated ring is read, nothing through the IOTLB).
        if (!vq.IsReady || IdlePoll.NothingToDo(vq, Features)) return 0;
        return vq.IsPacked ? PackedIotlbBurst.Enqueue(this, vq, views, pkts, count) : SplitIotlbBurst.Enqueue(this, vq, views, pkts, count);
    }

    /// <summary>
    /// A dequeue burst under the IOTLB: the pending RARP announcement first, as on the IOTLB-off path
    /// (<see cref="PutRarp"/>), then the guest's packets.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ushort DequeueIotlb(Vring vq, IotlbViews views, MempoolHeader* pool, Mbuf** pkts, ushort count)
    {
        if (!vq.IsReady) return 0;
        ushort r = _rarpPending != 0 ? PutRarp(vq, pool, pkts) : (ushort)0;
        if (r == count || IdlePoll.NothingToDo(vq, Features)) return r;
        pkts += r;
        uint rest = (uint)(count - r);
        return (ushort)(r + (vq.IsPacked
            ? PackedIotlbBurst.Dequeue(this, vq, views, pool, pkts, rest)
            : SplitIotlbBurst.Dequeue(this, vq, views, pool, pkts, rest)));
    }

    /// <summary>IOTLB_MSG UPDATE (validated by the caller): maps it, answers the misses it covers, translates the rings again.</summary>
    public void IotlbUpdate(IotlbEntry e)
    {
        IotlbViews? old;
        using (DeviceLockScope all = HoldAll())
        {
            Iotlb.Insert(e);
            IotlbMisses.Resolved(e.Iova, e.Last);
            old = RefreshIotlbLocked(all, translate: true);
        }
        old?.Dispose();
    }

    /// <summary>IOTLB_MSG INVALIDATE of [first, last]: no burst reads or writes through it once this returns.</summary>
    public void IotlbInvalidate(ulong first, ulong last)
    {
        IotlbViews? old;
        using (DeviceLockScope all = HoldAll())
        {
            Iotlb.Remove(first, last);
            old = RefreshIotlbLocked(all, translate: true);
        }
        old?.Dispose();
    }

    /// <summary>
    /// A ring stopped (GET_VRING_BASE, the device stops): the IOTLB and its pending misses are emptied and every ring's
    /// translation dropped. A frontend stops forwarding its vIOMMU's invalidations while the device is stopped (QEMU
    /// unregisters its IOMMU notifier at vhost stop), so a guest that frees its rings and buffers then (a driver
    /// unbind) and reuses their IOVAs for other pages would otherwise meet the old mappings at the next start.
    /// Nothing is asked meanwhile (QEMU refuses IOTLB requests of a stopped device): each ring is translated again,
    /// and asks for what it misses, when its addresses come again (SET_VRING_ADDR) or an IOTLB update arrives.
    /// vhost-kernel starts from an empty IOTLB at each SET_FEATURES for the same reason.
    /// </summary>
    public void IotlbStopped()
    {
        if (!IotlbActive) return;
        IotlbViews? old;
        using (DeviceLockScope all = HoldAll())
        {
            FlushIotlbLocked();
            old = RefreshIotlbLocked(all, translate: false);
            for (int i = 0; i < VringCount; i++)
                if (_vrings[i] is { } v) v.Invalidate(all.For(v));
        }
        old?.Dispose();
    }

    /// <summary>
    /// With every access lock held: the burst memory and the IOTLB views for the current features, memory table and
    /// cache, and (<paramref name="translate"/>) every ring translated again. Returns the views replaced (dispose
    /// them after the locks are released).
    /// </summary>
    private IotlbViews? RefreshIotlbLocked(in DeviceLockScope all, bool translate)
    {
        IotlbViews? old = IotlbViews;
        if (IotlbActive)
        {
            IotlbViews = Iommu.IotlbViews.Build(Iotlb, Memory);
            _burstMemory = null;
        }
        else
        {
            IotlbViews = null;
            _burstMemory = Memory;
        }
        if (translate) TranslateAllLocked(all);
        return old;
    }

    /// <summary>Empties the IOTLB and its misses (a memory table change or a reset: user addresses may mean other memory).</summary>
    private void FlushIotlbLocked()
    {
        Iotlb.Clear();
        IotlbMisses.Clear();
    }

    /// <summary>
    /// A ring translation's outcome under the IOTLB: a miss asks the frontend for the address and leaves the ring
    /// untranslated (not ready) until the update; it is not an error of the message that caused it.
    /// </summary>
    private VringError AfterTranslate(Vring v, VringError e)
    {
        if (e != VringError.IotlbMiss) return e;
        IotlbMisses.Request(v.RingMissIova, v.RingMissPerm);
        return VringError.None;
    }
}
