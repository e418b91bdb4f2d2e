using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Engine.Logging;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Iommu;

/// <summary>
/// Packed-ring bursts under VIRTIO_F_IOMMU_PLATFORM, the packed half of <see cref="SplitIotlbBurst"/> (same selection,
/// same prescan-then-burst order, with <see cref="PackedIotlbPrescan"/>). The dequeue hands the checked chains to the
/// IOTLB-off packed burst with the readable view as its memory. The enqueue takes them one packet at a time through
/// the packed slow path with the writable view (the IOTLB-off enqueue has no chain bound yet), every used flag
/// deferred to the burst's publication; while logging, what it writes is logged by guest physical address. The
/// descriptor ring itself was translated read-write (used entries are written in place). Allocates nothing; runs with
/// the vring's access lock held.
/// </summary>
internal static unsafe class PackedIotlbBurst
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ushort Dequeue(VhostDevice dev, Vring vq, IotlbViews views, MempoolHeader* pool, Mbuf** pkts, uint count)
    {
        Debug.Assert(vq.IsReady && vq.IsPacked);   // VhostDevice.EnqueueIotlb/DequeueIotlb checked and dispatched
        PackedRing.Begin(dev, vq, dev.Features, out PackedCursor avail, out _);
        if (!PackedRing.HeadAvailable(vq.Desc, avail)) return 0;   // an empty ring costs one load
        PackedCursor scan = avail;
        uint n = PackedIotlbPrescan.Resolvable(dev, vq, views, ref scan, Math.Min(count, vq.Size), IotlbPerm.Read, out _);
        // Exactly those chains (one packet each), through the IOTLB-off burst with the readable view as its memory:
        // a buffer or table the view does not hold (a write-only mapping, or a descriptor the guest rewrote since the
        // prescan) is dropped as IotlbPermissionDenied there; nothing else differs.
        return n == 0 ? (ushort)0 : PackedBursts.Dequeue(dev, vq, views.Read, pool, pkts, n);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ushort Enqueue(VhostDevice dev, Vring vq, IotlbViews views, Mbuf** pkts, uint count)
    {
        Debug.Assert(vq.IsReady && vq.IsPacked);   // VhostDevice.EnqueueIotlb/DequeueIotlb checked and dispatched
        ulong features = dev.Features;
        PackedRing.Begin(dev, vq, features, out PackedCursor avail, out PackedCursor used);
        byte* descs = vq.Desc;
        uint size = vq.Size;
        if (!PackedRing.HeadAvailable(descs, avail)) return 0;
        // The chains the burst may take (one shadow entry each): those checked mapped, from the burst's start.
        PackedCursor scan = avail;
        uint limit = PackedIotlbPrescan.Resolvable(dev, vq, views, ref scan, Math.Min(count, size), IotlbPerm.Write, out bool stopped);

        PackedScratch s = vq.PackedScratch!;
        uint hdr = (uint)VirtioNetHeader.SizeFor(features);
        uint nShadow = 0, done = 0;
        // While logging, the pieces are logged here by guest physical address (the slow path would log IOVAs).
        DirtyLog? log = IotlbDirtyLog.Suspend(vq);
        while (done < count)
        {
            if (nShadow == limit && !Extend(dev, vq, views, ref scan, ref limit, ref stopped)) break;
            // SAFETY: avail.Index < size; acquire load of its flags before anything else of it is read.
            ulong meta = PackedDescriptor.ReadMeta(PackedDescriptor.At(descs, avail.Index));
            if (!PackedDescriptor.IsAvail(meta, avail.Pattern)) break;   // out of guest buffers: not an error
            PackedEnqueueStep step = PackedEnqueueSlow.PacketWithin(dev, vq, views.Write, pkts[done], meta, avail, used, nShadow, limit);
            avail = step.Avail;
            used = step.Used;
            nShadow = step.NShadow;
            if (step.Delivered)
            {
                if (log != null) IotlbDirtyLog.PackedStep(log, views, vq, pkts[done]->PktLen + hdr);
                done++;
                continue;
            }
            // Not delivered: out of checked chains (a mergeable packet needs more), or a buffer too small for it.
            if (!Extend(dev, vq, views, ref scan, ref limit, ref stopped)) break;
        }
        IotlbDirtyLog.Resume(vq, log);
        PackedRing.Complete(dev, vq, views.Write, s.Shadow, nShadow, PackedUsedRing.DirectNever, avail, used, features);
        if (dev.StatsEnabled && done != 0) vq.Stats.CountPackets(pkts, (int)done);
        return (ushort)done;
    }

    /// <summary>Checks up to <see cref="IotlbPrescan.ExtendStep"/> more chains from <paramref name="scan"/>; false when none could be added.</summary>
    private static bool Extend(VhostDevice dev, Vring vq, IotlbViews views, ref PackedCursor scan, ref uint limit, ref bool stopped)
    {
        if (stopped || limit == vq.Size) return false;
        uint more = PackedIotlbPrescan.Resolvable(dev, vq, views, ref scan, Math.Min(vq.Size - limit, IotlbPrescan.ExtendStep), IotlbPerm.Write, out stopped);
        limit += more;
        return more != 0;
    }
}
