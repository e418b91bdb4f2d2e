using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Engine.Logging;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Iommu;

/// <summary>
/// Split-ring bursts under VIRTIO_F_IOMMU_PLATFORM, where every guest address is an IOVA. The burst entry selects them
/// once per burst (it finds no memory table to translate through: <see cref="VhostDevice"/>'s _burstMemory), so the
/// IOTLB-off paths carry none of this. A burst first counts the next chains whose every address the IOTLB maps
/// (<see cref="IotlbPrescan"/>: the first missing address is asked for once, the burst stops in front of its chain),
/// then hands exactly those to the IOTLB-off burst with a permission view as its memory table: the readable mappings
/// for TX, the writable ones for RX (whose indirect tables are read through the readable view). A buffer the view
/// does not hold (write-only for TX, read-only for RX, or rewritten by the guest since the prescan) is dropped there
/// as <see cref="DropReason.IotlbPermissionDenied"/> and returned used with length 0. RX while logging runs the slow
/// path instead and logs by guest physical address (<see cref="IotlbDirtyLog"/>). Allocates nothing; runs with the
/// vring's access lock held.
/// </summary>
internal static unsafe class SplitIotlbBurst
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ushort Dequeue(VhostDevice dev, Vring vq, IotlbViews views, MempoolHeader* pool, Mbuf** pkts, uint count)
    {
        Debug.Assert(vq.IsReady && !vq.IsPacked);   // VhostDevice.DequeueIotlb checked and dispatched
        uint pending = SplitRing.Begin(vq, dev.Features, out _, out ushort lastAvail);
        if (pending == 0) return 0;
        uint n = IotlbPrescan.Resolvable(dev, vq, views, lastAvail, Math.Min(count, pending), IotlbPerm.Read);
        // Exactly those chains (one packet each), through the IOTLB-off burst with the readable view as its memory:
        // a buffer or table the view does not hold (a write-only mapping, or a descriptor the guest rewrote since the
        // prescan) is dropped as IotlbPermissionDenied there; nothing else differs.
        return n == 0 ? (ushort)0 : SplitDequeue.Run(dev, vq, views.Read, pool, pkts, n);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ushort Enqueue(VhostDevice dev, Vring vq, IotlbViews views, Mbuf** pkts, uint count)
    {
        Debug.Assert(vq.IsReady && !vq.IsPacked);   // VhostDevice.EnqueueIotlb checked and dispatched
        // While logging, the pieces must be logged by guest physical address: the slow path with the log taken away.
        if (vq.ActiveLog != null) return EnqueueLogged(dev, vq, views, pkts, count);
        uint done = 0, want = count;   // chains to check: one per packet to start with
        while (done < count)
        {
            uint pending = SplitRing.Begin(vq, dev.Features, out _, out ushort lastAvail);
            if (pending == 0) break;
            uint ask = Math.Min(pending, want);
            uint ok = IotlbPrescan.Resolvable(dev, vq, views, lastAvail, ask, IotlbPerm.Write);
            if (ok == 0) break;
            // The IOTLB-off burst with the writable view as its memory, on the checked chains only (RX indirect
            // tables are read through the readable view: the writable view's DescriptorTables).
            uint k = SplitEnqueue.RunWithin(dev, vq, views.Write, pkts + done, count - done, ok);
            done += k;
            if (ok < ask) break;   // a miss, asked for: the rest waits for the update
            if (k == 0)
            {
                // The next packet did not fit the checked chains: out of buffers, or (mergeable) it needs more.
                if (ask == pending) break;
                want = 2 * ask;
            }
        }
        return (ushort)done;
    }

    /// <summary>The enqueue while logging: each packet through the slow path, its pieces logged by guest physical address.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ushort EnqueueLogged(VhostDevice dev, Vring vq, IotlbViews views, Mbuf** pkts, uint count)
    {
        ulong features = dev.Features;
        uint pending = SplitRing.Begin(vq, features, out ushort availIdx, out ushort lastAvail);
        if (pending == 0) return 0;
        uint ask = Math.Min(pending, count);
        uint ok = IotlbPrescan.Resolvable(dev, vq, views, lastAvail, ask, IotlbPerm.Write);
        // The chains the burst may take: up to the first that missed (or what was checked so far).
        ushort cap = (ushort)(lastAvail + ok);
        bool missed = ok < ask;

        SplitScratch s = vq.SplitScratch!;
        ushort* ring = (ushort*)(vq.Avail + SplitRingLayout.AvailRingOffset);
        byte* descs = vq.Desc;
        uint size = vq.Size, mask = size - 1;
        uint nShadow = 0, done = 0;
        // While logging, the pieces are logged here by guest physical address (the slow path would log IOVAs).
        DirtyLog? log = IotlbDirtyLog.Suspend(vq);
        while (done < count)
        {
            if (lastAvail == cap && !Extend(dev, vq, views, availIdx, ref cap, ref missed)) break;
            // SAFETY: the index is masked into the translated avail ring; read once into a local.
            ushort head = ring[lastAvail & mask];
            ulong addr = 0, meta = 0;
            // SAFETY: head < size: the descriptor is inside the translated table.
            if (head < size) SplitDescriptor.Read(descs + ((nuint)head << 4), out addr, out meta);
            EnqueueStep step = SplitEnqueueSlow.Packet(dev, vq, views.Write, pkts[done], head, addr, meta, lastAvail, cap, nShadow);
            if (log != null) IotlbDirtyLog.Step(log, views, vq, nShadow, step.NShadow);
            nShadow = step.NShadow;
            lastAvail = step.LastAvail;
            if (step.Delivered)
            {
                done++;
                continue;
            }
            // Not delivered: out of checked chains (a mergeable packet needs more), or a buffer too small for it.
            if (!Extend(dev, vq, views, availIdx, ref cap, ref missed)) break;
        }
        IotlbDirtyLog.Resume(vq, log);
        SplitRing.Complete(dev, vq, s.Shadow, nShadow, lastAvail, VirtioFeatures.Has(features, VirtioFeatures.RingEventIdx));
        if (dev.StatsEnabled && done != 0) vq.Stats.CountPackets(pkts, (int)done);
        return (ushort)done;
    }

    /// <summary>Checks up to <see cref="IotlbPrescan.ExtendStep"/> more chains after <paramref name="cap"/>; false when none could be added.</summary>
    private static bool Extend(VhostDevice dev, Vring vq, IotlbViews views, ushort availIdx, ref ushort cap, ref bool missed)
    {
        if (missed || cap == availIdx) return false;
        uint ask = Math.Min((uint)(ushort)(availIdx - cap), IotlbPrescan.ExtendStep);
        uint more = IotlbPrescan.Resolvable(dev, vq, views, cap, ask, IotlbPerm.Write);
        missed = more < ask;
        cap += (ushort)more;
        return more != 0;
    }
}
