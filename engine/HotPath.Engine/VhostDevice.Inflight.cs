using HotPath.Engine.Inflight;
using HotPath.Engine.Vrings;

namespace HotPath.Engine;

/// <summary>
/// Inflight I/O tracking (INFLIGHT_SHMFD): the region from GET/SET_INFLIGHT_FD, each vring's tracking in it, and
/// the ring-start check that repairs a region a previous backend left behind and lists what it had not finished.
/// </summary>
public sealed unsafe partial class VhostDevice
{
    /// <summary>The inflight region from GET/SET_INFLIGHT_FD, or null.</summary>
    public InflightRegion? Inflight { get; private set; }

    /// <summary>
    /// True for the built-in virtio-net device (the default; false once the application sets its own features).
    /// Its bursts take heads from the avail ring in order and publish every head they took before they return, so
    /// what a killed backend had not finished is always the avail entries from the ring's used.idx on.
    /// </summary>
    public bool BuiltinNet { get; set; } = true;

    /// <summary>
    /// Replaces the inflight region under every vring lock and releases the old one. Rings already started track
    /// into the new region at once (as after their kick); the others start tracking at their kick.
    /// </summary>
    public void SetInflight(InflightRegion? region)
    {
        InflightRegion? old;
        using (DeviceLockScope all = HoldAll())
        {
            old = Inflight;
            Inflight = region;
            for (int i = 0; i < VringCount; i++)
            {
                Vring? v = _vrings[i];
                if (v == null) continue;
                DropInflightLocked(v);
                if (region != null && v.KickFd != Vring.FdUninitialized) StartInflightLocked(v, all.For(v));
                RefreshColdLocked(v);
            }
        }
        if (!ReferenceEquals(old, region)) old?.Dispose();
    }

    private static void DropInflightLocked(Vring v)
    {
        v.Inflight?.Dispose();
        v.Inflight = null;
        v.InflightResubmitted = 0;
    }

    /// <summary>
    /// Ring start (SET_VRING_KICK; DPDK's vhost_check_queue_inflights_split/packed): tracking of <paramref name="v"/>
    /// in the current region. A fresh queue region is marked in use. A region a previous backend tracked into is
    /// repaired (its last batch committed or rolled back against the ring) and its unfinished entries become the
    /// resubmit list; then, as DPDK, a split ring of an application's device resumes past them (the application
    /// resubmits the list, <c>hp_vhost_get_vhost_ring_inflight</c>), and a packed one from
    /// <c>hp_vhost_get_vring_base_from_inflight</c>. The built-in net device resubmits by reading those entries
    /// from the ring again: a split ring resumes at its used.idx, where the in-order bursts left the first entry
    /// they had not published; a packed ring at the region's old_used_idx, after the chains taken from there were
    /// written back into the ring (<see cref="InflightPackedInOrder"/>). <paramref name="held"/>: the vring's access
    /// lock.
    /// </summary>
    public InflightStart StartInflightLocked(Vring v, in VringLockScope held)
    {
        Debug.Assert(held.Covers(v));
        DropInflightLocked(v);
        InflightRegion? region = Inflight;
        InflightQueue? q = region == null || !v.IsTranslated ? null : InflightQueue.For(region, v.Index, v.Size, v.IsPacked);
        if (q == null)
        {
            RefreshColdLocked(v);
            return default;
        }
        v.Inflight = q;
        bool recovered = q.Packed ? q.PackedHeader->Version != 0 : q.SplitHeader->Version != 0;
        InflightStart result;
        if (q.Packed)
        {
            var ring = (VringPackedDesc*)v.Desc;
            int n = InflightPacked.Start(q, ring);
            bool matches = true;
            if (BuiltinNet)
            {
                // The region follows the built-in bursts from the ring's position on; after a crash the chains the
                // dead backend took are written back into the ring and read again from old_used_idx.
                matches = InflightPackedInOrder.Resume(q, ring, recovered, v.PackedUsedPosition, out ushort at);
                if (recovered && matches)
                {
                    v.SetBase(at, packed: true, held);
                    v.InflightResubmitted = n;
                }
            }
            result = new InflightStart(true, recovered, n, matches);
        }
        else
        {
            // SAFETY: Used was translated with the ring's full used-area length; idx is read once.
            ushort used = Volatile.Read(ref *(ushort*)(v.Used + SplitRingLayout.UsedIdxOffset));
            int n = InflightSplit.Start(q, used);
            bool matches = true;
            if (recovered && BuiltinNet)
            {
                matches = ListIsAvailFrom(v, q, used);
                v.LastAvailIdx = used;
                v.LastUsedIdx = used;
                v.InflightResubmitted = n;
            }
            else if (recovered)
            {
                v.LastAvailIdx = (ushort)(v.LastAvailIdx + n);
            }
            result = new InflightStart(true, recovered, n, matches);
        }
        RefreshColdLocked(v);
        return result;
    }

    /// <summary>
    /// True when the resubmit list, oldest first, is the avail ring from <paramref name="used"/> on: what an in-order
    /// device leaves. The built-in net device checks its own region with it (a mismatch is reported, not fatal:
    /// resuming at used.idx is right for it whatever the region says).
    /// </summary>
    private static bool ListIsAvailFrom(Vring v, InflightQueue q, ushort used)
    {
        ResubmitInfo* r = q.Resubmit;
        int n = r == null ? 0 : r->Num;
        var ring = (ushort*)(v.Avail + SplitRingLayout.AvailRingOffset);
        for (int k = 0; k < n; k++)
        {
            // SAFETY: the index is masked into the translated avail ring; the list has n entries, oldest last.
            ushort head = Volatile.Read(ref ring[(ushort)(used + k) & (v.Size - 1)]);
            if (r->List[n - 1 - k].Index != head) return false;
        }
        return true;
    }
}

/// <summary>What <see cref="VhostDevice.StartInflightLocked"/> found.</summary>
/// <param name="Tracked">The ring tracks into an inflight region.</param>
/// <param name="Recovered">The region had been used by a backend before (version 1).</param>
/// <param name="Resubmit">Entries left inflight, now on the resubmit list.</param>
/// <param name="MatchesRing">Built-in net device: the list is the ring from where it resumes on (split: the avail ring
/// from used.idx; packed: the chains from old_used_idx).</param>
public readonly record struct InflightStart(bool Tracked, bool Recovered, int Resubmit, bool MatchesRing);
