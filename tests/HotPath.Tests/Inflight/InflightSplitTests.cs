using HotPath.Engine;
using HotPath.Engine.Inflight;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Tests.Datapath;

namespace HotPath.Tests.Inflight;

/// <summary>
/// Split-ring inflight tracking in the engine, deterministically: the built-in bursts' batch protocol, a backend
/// "killed" at each step of it (the region left as it would be), and the ring-start recovery that follows.
/// </summary>
public sealed unsafe class InflightSplitTests
{
    private static readonly byte[] Hdr = new byte[12];

    private static Loopback WithRegion(out InflightRegion region, ushort queueSize = 256)
    {
        var lb = new Loopback(Loopback.With(VirtioFeatures.NetMrgRxbuf));
        Assert.Equal(0, InflightRegion.TryCreate(2, queueSize, packed: false, out InflightRegion? r));
        region = r!;
        lb.Device.SetInflight(region);   // the rings are started: tracking begins at once
        return lb;
    }

    private static InflightSplitHeader* Header(Vring v) => (InflightSplitHeader*)v.Inflight!.Queue;
    private static InflightSplitDesc* Descs(Vring v) => (InflightSplitDesc*)(v.Inflight!.Queue + InflightRegion.SplitHeaderSize);

    /// <summary>The ring restarts as after a backend restart: the start check runs on the region as left.</summary>
    internal static InflightStart Restart(VhostDevice dev, Vring v)
    {
        using VringLockScope held = v.Hold();
        return dev.StartInflightLocked(v, held);
    }

    private static ushort[] PostTx(Loopback lb, int n)
    {
        var heads = new ushort[n];
        for (int i = 0; i < n; i++)
        {
            Assert.True(lb.Tx[0].PostTx(Hdr, Payload.Make(64, (ulong)i)));
            heads[i] = lb.Tx[0].LastPostedHead;
        }
        lb.Tx[0].Publish();
        return heads;
    }

    [Fact]
    public void A_fresh_region_is_marked_in_use_when_the_ring_starts_and_nothing_is_resubmitted()
    {
        using Loopback lb = WithRegion(out _);
        Vring tx = lb.TxVring();
        Assert.NotNull(tx.Inflight);
        Assert.Equal(InflightRegion.Version, Header(tx)->Version);
        Assert.True(tx.Inflight!.Resubmit == null);
        Assert.NotEqual(0, tx.ColdFeatures & Vring.ColdInflight);
    }

    [Fact]
    public void A_burst_tracks_its_heads_as_one_batch_and_clears_it_once_published()
    {
        using Loopback lb = WithRegion(out _);
        using var pool = TestPools.Create();
        ushort[] heads = PostTx(lb, 5);
        var got = new nint[8];
        Assert.Equal(5, lb.Device.DequeueBurst(1, pool, got));
        Vring tx = lb.TxVring();
        InflightSplitHeader* h = Header(tx);
        Assert.Equal(5, h->UsedIdx);
        for (int i = 0; i < 256; i++) Assert.Equal(0, Descs(tx)[i].Inflight);
        // The last batch list runs from the newest head back; counters follow the order heads were taken.
        ushort at = h->LastBatchHead;
        for (int k = 4; k >= 0; k--)
        {
            Assert.Equal(heads[k], at);
            Assert.Equal((ulong)k, Descs(tx)[at].Counter);
            at = Descs(tx)[at].Next;
        }
        fixed (nint* p = got) HotPath.Engine.Buffers.MbufOps.FreeBulk((HotPath.Engine.Buffers.Mbuf**)p, 5);
    }

    [Fact]
    public void Heads_taken_but_never_published_are_resubmitted_by_reading_the_avail_ring_again()
    {
        using Loopback lb = WithRegion(out _);
        ushort[] heads = PostTx(lb, 7);
        Vring tx = lb.TxVring();
        // A backend killed inside a burst, after taking the heads (steps 1-2) and before used.idx.
        VringUsedElem* batch = stackalloc VringUsedElem[7];
        for (int i = 0; i < 7; i++) batch[i] = new VringUsedElem { Id = heads[i] };
        InflightSplit.TakeBatch(tx.Inflight!, batch, 7);
        tx.LastAvailIdx = 7;   // what the dead backend had got to

        InflightStart r = Restart(lb.Device, tx);
        Assert.True(r.Recovered);
        Assert.Equal(7, r.Resubmit);
        Assert.True(r.MatchesRing);
        Assert.Equal(0, tx.LastAvailIdx);   // the built-in net device resumes at used.idx: the 7 are read again
        Assert.Equal(0, tx.LastUsedIdx);
        ResubmitInfo* list = tx.Inflight!.Resubmit;
        Assert.Equal(7, list->Num);
        for (int k = 0; k < 7; k++) Assert.Equal(heads[6 - k], list->List[k].Index);   // highest counter first (DPDK)
        Assert.Equal(7UL, tx.Inflight.GlobalCounter);

        using var pool = TestPools.Create();
        var got = new nint[8];
        Assert.Equal(7, lb.Device.DequeueBurst(1, pool, got));   // resubmitted: each completed once
        Assert.Equal(7, lb.Tx[0].ReapTx());
        fixed (nint* p = got)
            for (int i = 0; i < 7; i++)
            {
                var m = (HotPath.Engine.Buffers.Mbuf*)p[i];
                Assert.Equal((ulong)i, Payload.Seq(new ReadOnlySpan<byte>(m->Data, 8)));
                HotPath.Engine.Buffers.MbufOps.Free(m);
            }
    }

    [Fact]
    public void A_batch_published_but_not_cleared_is_cleared_from_its_list_and_not_resubmitted()
    {
        using Loopback lb = WithRegion(out _);
        using var pool = TestPools.Create();
        var got = new nint[8];
        PostTx(lb, 3);
        Assert.Equal(3, lb.Device.DequeueBurst(1, pool, got));   // a finished batch first
        ushort[] heads = PostTx(lb, 4);
        Vring tx = lb.TxVring();
        // Killed after used.idx (step 3), before the clears: the guest sees the 4 as used.
        VringUsedElem* batch = stackalloc VringUsedElem[4];
        for (int i = 0; i < 4; i++) batch[i] = new VringUsedElem { Id = heads[i] };
        InflightSplit.TakeBatch(tx.Inflight!, batch, 4);
        var ring = (VringUsedElem*)(tx.Used + SplitRingLayout.UsedRingOffset);
        for (int i = 0; i < 4; i++) ring[3 + i] = batch[i];
        Volatile.Write(ref *(ushort*)(tx.Used + SplitRingLayout.UsedIdxOffset), (ushort)7);
        tx.LastAvailIdx = 7;

        InflightStart r = Restart(lb.Device, tx);
        Assert.Equal(0, r.Resubmit);
        Assert.Equal(7, Header(tx)->UsedIdx);
        for (int i = 0; i < 256; i++) Assert.Equal(0, Descs(tx)[i].Inflight);
        Assert.Equal(7, tx.LastAvailIdx);
        Assert.Equal(0, lb.Device.DequeueBurst(1, pool, got));   // nothing is completed twice
        Assert.Equal(7, lb.Tx[0].ReapTx());
        fixed (nint* p = got) HotPath.Engine.Buffers.MbufOps.FreeBulk((HotPath.Engine.Buffers.Mbuf**)p, 3);
    }

    [Fact]
    public void An_application_device_resumes_past_its_inflight_entries_and_gets_them_oldest_last()
    {
        using Loopback lb = WithRegion(out _);
        lb.Device.BuiltinNet = false;
        Vring tx = lb.TxVring();
        InflightQueue q = tx.Inflight!;
        // The application took heads 9, 4, 200 (in that order) and completed 4.
        Assert.True(InflightSplit.Take(q, 9));
        Assert.True(InflightSplit.Take(q, 4));
        Assert.True(InflightSplit.Take(q, 200));
        Assert.True(InflightSplit.AddToBatch(q, 4));
        Assert.True(InflightSplit.Clear(q, 4, 1));
        Assert.False(InflightSplit.Take(q, 256));   // bounded by the entries
        Volatile.Write(ref *(ushort*)(tx.Used + SplitRingLayout.UsedIdxOffset), (ushort)1);
        tx.LastAvailIdx = 1;   // what the frontend sends after a crash: the used index

        InflightStart r = Restart(lb.Device, tx);
        Assert.Equal(2, r.Resubmit);
        Assert.Equal(3, tx.LastAvailIdx);   // DPDK: last_avail_idx += resubmit_num
        ResubmitInfo* list = tx.Inflight!.Resubmit;
        Assert.Equal(new ushort[] { 200, 9 }, new[] { list->List[0].Index, list->List[1].Index });
        Assert.Equal(list->List[0].Counter + 1, tx.Inflight.GlobalCounter);
    }

    [Fact]
    public void A_region_smaller_than_the_ring_tracks_only_what_it_holds()
    {
        using Loopback lb = WithRegion(out _, queueSize: 16);
        Vring tx = lb.TxVring();
        Assert.Equal(16u, tx.Inflight!.Entries);
        Assert.True(InflightSplit.Take(tx.Inflight, 15));
        Assert.False(InflightSplit.Take(tx.Inflight, 16));
        using var pool = TestPools.Create();
        PostTx(lb, 40);   // heads above 15 go through the burst untracked
        var got = new nint[64];
        Assert.Equal(40, lb.Device.DequeueBurst(1, pool, got));
        fixed (nint* p = got) HotPath.Engine.Buffers.MbufOps.FreeBulk((HotPath.Engine.Buffers.Mbuf**)p, 40);
    }

    [Fact]
    public void Garbage_regions_handed_back_by_a_hostile_frontend_are_bounded_and_never_crash_the_start()
    {
        using Loopback lb = WithRegion(out InflightRegion region);
        var random = new Random(5);
        Vring tx = lb.TxVring(), rx = lb.RxVring();
        var bytes = new Span<byte>(region.Base, (int)region.Size);
        for (int round = 0; round < 2000; round++)
        {
            random.NextBytes(bytes);
            if (round % 2 == 0) ((InflightSplitHeader*)region.Queue(1))->Version = 1;
            foreach (Vring v in new[] { tx, rx })
            {
                ushort availBefore = v.LastAvailIdx;
                InflightStart r = Restart(lb.Device, v);
                Assert.InRange(r.Resubmit, 0, 256);
                if (v.Inflight!.Resubmit != null) Assert.InRange(v.Inflight.Resubmit->Num, 0, 256);
                v.LastAvailIdx = availBefore;
                v.LastUsedIdx = availBefore;
            }
        }
        // The rings still work.
        using var pool = TestPools.Create();
        PostTx(lb, 4);
        var got = new nint[8];
        Assert.Equal(4, lb.Device.DequeueBurst(1, pool, got));
        fixed (nint* p = got) HotPath.Engine.Buffers.MbufOps.FreeBulk((HotPath.Engine.Buffers.Mbuf**)p, 4);
    }
}
