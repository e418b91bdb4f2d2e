using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Engine.Inflight;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;

namespace HotPath.Tests.Inflight;

/// <summary>
/// Packed-ring inflight tracking by the built-in net bursts (<see cref="InflightPackedInOrder"/>), on real memfd guest
/// memory: every chain goes through the slow path and is copied into the region before its used entry is written over
/// it; a burst is one batch; a backend "killed" at each step of it (the region and the ring left as it would leave
/// them) is recovered at ring start by writing the taken chains back into the ring and reading them again.
/// </summary>
public sealed unsafe class InflightPackedBurstTests
{
    private static readonly byte[] Hdr = new byte[12];

    private static PackedLoopback WithRegion(out InflightRegion region, ushort queueSize = 256)
    {
        var lb = new PackedLoopback(PackedLoopback.With(VirtioFeatures.NetMrgRxbuf));
        Assert.Equal(0, InflightRegion.TryCreate(2, queueSize, packed: true, out InflightRegion? r));
        region = r!;
        lb.Device.SetInflight(region);   // the rings are started: tracking begins at once
        return lb;
    }

    private static InflightPackedHeader* Header(Vring v) => (InflightPackedHeader*)v.Inflight!.Queue;
    private static InflightPackedDesc* Descs(Vring v) => (InflightPackedDesc*)(v.Inflight!.Queue + InflightRegion.PackedHeaderSize);

    private static InflightStart Restart(VhostDevice dev, Vring v) => InflightSplitTests.Restart(dev, v);

    /// <summary>The region holds nothing taken: no entry inflight, every entry on the free list, committed at the ring's used position.</summary>
    private static void AssertIdle(Vring v)
    {
        InflightPackedHeader* h = Header(v);
        uint entries = v.Inflight!.Entries;
        for (uint i = 0; i < entries; i++) Assert.Equal(0, Descs(v)[i].Inflight);
        var seen = new HashSet<uint>();
        for (uint e = h->OldFreeHead; e < entries && seen.Add(e); e = Descs(v)[e].Next) { }
        Assert.Equal((int)entries, seen.Count);
        Assert.Equal(h->OldFreeHead, h->FreeHead);
        Assert.Equal(v.LastUsedIdx, h->OldUsedIdx);
        Assert.Equal(v.LastUsedIdx, h->UsedIdx);
        Assert.Equal(v.UsedWrapCounter ? 1 : 0, h->OldUsedWrapCounter);
    }

    /// <summary>Posts TX packets of the given shapes; returns each chain's (first slot, slots).</summary>
    private static List<(uint Slot, uint Slots)> PostTx(PackedRingDriver tx, int n, Func<int, TxShape> shape, ulong firstSeq = 0)
    {
        var chains = new List<(uint, uint)>();
        for (int i = 0; i < n; i++)
        {
            TxShape s = shape(i);
            uint slot = tx.NextAvail;
            Assert.True(tx.PostTx(Hdr, Payload.Make(64 + 37 * i, firstSeq + (ulong)i), s));
            chains.Add((slot, s.Indirect ? 1u : (uint)s.Descriptors));
        }
        tx.Publish();
        return chains;
    }

    private static VringPackedDesc[] Snapshot(PackedRingDriver d)
    {
        var a = new VringPackedDesc[d.Size];
        for (uint i = 0; i < d.Size; i++) a[i] = d.RawAt(i);
        return a;
    }

    /// <summary>
    /// What a backend killed inside a burst leaves: each chain taken into the region in ring order, then its used id
    /// and length written over its head (as the burst does, before publishing). Returns the head entries.
    /// </summary>
    private static ushort[] DeadBurstTakes(Vring v, List<(uint Slot, uint Slots)> chains)
    {
        var entries = new ushort[chains.Count];
        var ring = (VringPackedDesc*)v.Desc;
        for (int k = 0; k < chains.Count; k++)
        {
            Assert.True(InflightPacked.TakeChain(v.Inflight!, ring, chains[k].Slot, chains[k].Slots, out entries[k]));
            uint last = (chains[k].Slot + chains[k].Slots - 1) % v.Size;
            ring[chains[k].Slot].Id = ring[last].Id;
            ring[chains[k].Slot].Len = 0;
        }
        return entries;
    }

    /// <summary>The used flags the device stores at <paramref name="slot"/> for the lap of <paramref name="wrap"/>.</summary>
    private static void WriteUsedFlags(Vring v, uint slot, bool wrap) =>
        Volatile.Write(ref ((VringPackedDesc*)v.Desc)[slot].Flags, wrap ? (ushort)(VringPackedDesc.FlagAvail | VringPackedDesc.FlagUsed) : (ushort)0);

    private static void DequeueAndCheck(PackedLoopback lb, int n, ulong firstSeq)
    {
        using var pool = TestPools.Create();
        var got = new nint[64];
        Assert.Equal(n, lb.Device.DequeueBurst(1, pool, got));
        fixed (nint* p = got)
            for (int i = 0; i < n; i++)
            {
                var m = (Mbuf*)p[i];
                Assert.Equal(m->PktLen, (uint)m->DataLen);
                Assert.True(Payload.Matches(new ReadOnlySpan<byte>(m->Data, m->DataLen), firstSeq + (ulong)i), $"packet {i}");
                MbufOps.Free(m);
            }
    }

    [Fact]
    public void A_fresh_region_starts_at_the_rings_position_and_every_chain_goes_through_the_slow_path()
    {
        using PackedLoopback lb = WithRegion(out _);
        lb.Device.StatsEnabled = true;
        Vring tx = lb.TxVring();
        Assert.Equal(InflightRegion.Version, Header(tx)->Version);
        Assert.NotEqual(0, tx.ColdFeatures & Vring.ColdInflight);
        AssertIdle(tx);

        PostTx(lb.Tx[0], 8, _ => TxShape.Single);
        VringPackedDesc[] before = Snapshot(lb.Tx[0]);
        DequeueAndCheck(lb, 8, 0);
        Assert.Equal(0UL, tx.Stats[VringStats.PackedBatchDescriptors]);   // four-at-a-time would overwrite heads untracked
        Assert.Equal(8, lb.Tx[0].ReapTx());
        AssertIdle(tx);
        // The entries kept the descriptors as the driver wrote them, lengths included: copied before the burst
        // wrote its used entries (length 0) over them.
        for (uint i = 0; i < 8; i++)
        {
            Assert.Equal(0u, lb.Tx[0].RawAt(i).Len);
            Assert.Equal(before[i].Addr, Descs(tx)[i].Addr);
            Assert.Equal(before[i].Len, Descs(tx)[i].Len);
        }

        lb.Device.SetInflight(null);
        PostTx(lb.Tx[0], 8, _ => TxShape.Single, firstSeq: 8);
        DequeueAndCheck(lb, 8, 8);
        Assert.Equal(8UL, tx.Stats[VringStats.PackedBatchDescriptors]);   // the fast paths are back
    }

    [Fact]
    public void Chains_taken_but_never_published_are_written_back_into_the_ring_and_read_again()
    {
        using PackedLoopback lb = WithRegion(out _);
        Vring tx = lb.TxVring();
        PostTx(lb.Tx[0], 3, _ => TxShape.Single);
        DequeueAndCheck(lb, 3, 0);   // a finished batch first
        Assert.Equal(3, lb.Tx[0].ReapTx());
        // Chains of every shape: one descriptor, header apart, three data descriptors, an indirect table.
        TxShape[] shapes = { TxShape.Single, TxShape.HeaderApart, new(DataDescriptors: 3), new(Indirect: true, DataDescriptors: 2) };
        List<(uint Slot, uint Slots)> chains = PostTx(lb.Tx[0], 7, i => shapes[i % shapes.Length], firstSeq: 3);
        VringPackedDesc[] before = Snapshot(lb.Tx[0]);
        // Killed inside the burst: every chain taken, used entries written over their heads, and (publication had
        // begun, the first used descriptor is stored last) the flags of two chains past the first stored.
        DeadBurstTakes(tx, chains);
        WriteUsedFlags(tx, chains[2].Slot, true);
        WriteUsedFlags(tx, chains[5].Slot, true);
        tx.LastAvailIdx = (ushort)lb.Tx[0].NextAvail;   // what the dead backend had got to

        InflightStart r = Restart(lb.Device, tx);
        Assert.True(r.Recovered);
        Assert.Equal(7, r.Resubmit);
        Assert.True(r.MatchesRing);
        Assert.Equal(3, tx.LastAvailIdx);   // resumes at old_used_idx
        Assert.Equal(3, tx.LastUsedIdx);
        Assert.Equal(7, tx.InflightResubmitted);
        VringPackedDesc[] after = Snapshot(lb.Tx[0]);
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i], after[i]);
        AssertIdle(tx);

        DequeueAndCheck(lb, 7, 3);   // read again from the ring, each completed once
        Assert.Equal(7, lb.Tx[0].ReapTx());
        AssertIdle(tx);
    }

    [Fact]
    public void A_batch_published_but_not_committed_is_committed_and_not_read_again()
    {
        using PackedLoopback lb = WithRegion(out _);
        Vring tx = lb.TxVring();
        PostTx(lb.Tx[0], 3, _ => TxShape.Single);
        DequeueAndCheck(lb, 3, 0);
        List<(uint Slot, uint Slots)> chains = PostTx(lb.Tx[0], 4, i => i == 1 ? TxShape.HeaderApart : TxShape.Single, firstSeq: 3);
        ushort[] entries = DeadBurstTakes(tx, chains);
        uint end = chains[^1].Slot + chains[^1].Slots;
        fixed (ushort* e = entries) InflightPackedInOrder.Publishing(tx.Inflight!, e, 4, end, usedWrap: true);
        // Killed after the flags were stored (the first last), before the batch was cleared and committed.
        for (int k = 3; k >= 0; k--) WriteUsedFlags(tx, chains[k].Slot, true);

        InflightStart r = Restart(lb.Device, tx);
        Assert.True(r.Recovered);
        Assert.Equal(0, r.Resubmit);
        Assert.True(r.MatchesRing);
        Assert.Equal(end, tx.LastAvailIdx);
        AssertIdle(tx);
        DequeueAndCheck(lb, 0, 0);   // nothing is completed twice
        Assert.Equal(7, lb.Tx[0].ReapTx());
    }

    [Fact]
    public void A_batch_whose_first_flags_were_not_stored_is_rolled_back_and_read_again()
    {
        using PackedLoopback lb = WithRegion(out _);
        Vring tx = lb.TxVring();
        List<(uint Slot, uint Slots)> chains = PostTx(lb.Tx[0], 5, _ => TxShape.Single);
        ushort[] entries = DeadBurstTakes(tx, chains);
        fixed (ushort* e = entries) InflightPackedInOrder.Publishing(tx.Inflight!, e, 5, 5, usedWrap: true);
        for (int k = 4; k >= 1; k--) WriteUsedFlags(tx, chains[k].Slot, true);   // all but the first

        InflightStart r = Restart(lb.Device, tx);
        Assert.Equal(5, r.Resubmit);
        Assert.True(r.MatchesRing);
        Assert.Equal(0, tx.LastAvailIdx);
        DequeueAndCheck(lb, 5, 0);
        Assert.Equal(5, lb.Tx[0].ReapTx());
        AssertIdle(tx);
    }

    [Fact]
    public void Rx_chains_a_mergeable_packet_could_not_fill_are_given_back_and_tracking_stays_whole()
    {
        using PackedLoopback lb = WithRegion(out _);
        lb.Device.StatsEnabled = true;
        Vring rx = lb.RxVring();
        PackedRingDriver d = lb.Rx[0];
        // Three buffers of 1024 bytes: a 4000-byte packet needs four.
        for (int i = 0; i < 3; i++) Assert.True(d.PostRx(1024));
        d.Publish();
        Mbuf* big = HandMbufs.Make(Payload.Make(4000, 1));
        Mbuf* small = HandMbufs.Make(Payload.Make(300, 2));
        try
        {
            Assert.Equal(0, lb.Device.EnqueueBurst(0, &big, 1));   // does not fit: the three chains stay in the ring
            AssertIdle(rx);
            for (int i = 0; i < 3; i++) Assert.True(d.PostRx(1024, descriptors: 2));
            d.Publish();
            Assert.Equal(1, lb.Device.EnqueueBurst(0, &big, 1));
            Assert.Equal(1, lb.Device.EnqueueBurst(0, &small, 1));
            AssertIdle(rx);
            Assert.Equal(0UL, rx.Stats[VringStats.PackedBatchDescriptors]);
            var buf = new byte[8192];
            Assert.True(d.TryReceive(buf, out RxInfo a));
            Assert.True(Payload.Matches(buf.AsSpan(0, a.Length), 1));
            Assert.True(d.TryReceive(buf, out RxInfo b));
            Assert.True(Payload.Matches(buf.AsSpan(0, b.Length), 2));
        }
        finally
        {
            HandMbufs.Free(big);
            HandMbufs.Free(small);
        }
    }

    [Fact]
    public void A_region_smaller_than_the_ring_tracks_what_it_holds_and_traffic_flows()
    {
        using PackedLoopback lb = WithRegion(out _, queueSize: 16);
        Vring tx = lb.TxVring();
        Assert.Equal(16u, tx.Inflight!.Entries);
        for (int round = 0; round < 3; round++)
        {
            PostTx(lb.Tx[0], 40, _ => TxShape.Single, firstSeq: (ulong)(40 * round));   // the 17th chain on goes untracked
            DequeueAndCheck(lb, 40, (ulong)(40 * round));
            Assert.Equal(40, lb.Tx[0].ReapTx());
            AssertIdle(tx);
        }
    }

    [Fact]
    public void Garbage_written_into_the_region_by_a_hostile_frontend_never_takes_the_bursts_out_of_it()
    {
        using PackedLoopback lb = WithRegion(out InflightRegion region);
        var random = new Random(7);
        var bytes = new Span<byte>(region.Base, (int)region.Size);
        Vring tx = lb.TxVring();
        ulong seq = 0;
        for (int round = 0; round < 300; round++)
        {
            random.NextBytes(bytes);
            int n = 1 + random.Next(12);
            PostTx(lb.Tx[0], n, i => (i & 1) == 0 ? TxShape.Single : TxShape.HeaderApart, seq);
            DequeueAndCheck(lb, n, seq);
            Assert.Equal(n, lb.Tx[0].ReapTx());
            seq += (ulong)n;
            if (round % 10 == 0)
            {
                InflightStart r = Restart(lb.Device, tx);
                Assert.InRange(r.Resubmit, 0, 256);
                // A restart may have resumed wherever the garbage said: the driver follows (as after a reconnect).
                lb.Tx[0].RawRestart(tx.LastAvailIdx, tx.AvailWrapCounter);
            }
        }
    }
}
