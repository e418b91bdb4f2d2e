using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// What is particular to packed rings: the batch-of-4 path and when the single path runs instead (asserted through
/// the packed_batch_descriptors counter), the used descriptors the device writes (flags, ids, lengths), wrap
/// counters over many laps, and SECURITY.md case 17: wrap-counter confusion, invalid AVAIL/USED combinations, a
/// batch of 4 with one bad entry.
/// </summary>
public unsafe class PackedRingTests
{
    private const ushort Avail = VringPackedDesc.FlagAvail, Used = VringPackedDesc.FlagUsed, Write = VringPackedDesc.FlagWrite;

    private static ulong Batched(HotPath.Engine.Vrings.Vring v) => v.Stats[VringStats.PackedBatchDescriptors];

    private static void PostTx(PackedRingDriver tx, int n, int size = 64, ulong seq0 = 0, TxShape shape = default)
    {
        for (int i = 0; i < n; i++) Assert.True(tx.PostTx(new byte[tx.HeaderSize], Payload.Make(size, seq0 + (ulong)i), shape));
        tx.Publish();
    }

    private static List<ulong> DequeueSeqs(PackedLoopback lb, Mempool pool, int max = 64)
    {
        var mbufs = new nint[max];
        ushort n = lb.Device.DequeueBurst(1, pool, mbufs);
        var seqs = new List<ulong>();
        for (int i = 0; i < n; i++)
        {
            var m = (Mbuf*)mbufs[i];
            var b = new ReadOnlySpan<byte>(m->Data, m->DataLen);
            Assert.True(Payload.Matches(b, Payload.Seq(b)));
            seqs.Add(Payload.Seq(b));
            MbufOps.Free(m);
        }
        return seqs;
    }

    // ---------------------------------------------------------------- batch and single paths

    [Fact]
    public void Aligned_single_descriptor_packets_go_through_the_batch_path_both_ways()
    {
        using var lb = new PackedLoopback(ringSize: 256);
        using Mempool pool = TestPools.Create();
        lb.Device.StatsEnabled = true;
        PostTx(lb.Tx[0], 32);
        Assert.Equal(Enumerable.Range(0, 32).Select(i => (ulong)i), DequeueSeqs(lb, pool));
        Assert.Equal(32UL, Batched(lb.TxVring()));

        lb.Rx[0].FillRx(2048);
        lb.Rx[0].Publish();
        Mbuf** pkts = stackalloc Mbuf*[32];
        for (int i = 0; i < 32; i++) pkts[i] = HandMbufs.Make(Payload.Make(100 + i, (ulong)i));
        try { Assert.Equal(32, lb.Device.EnqueueBurst(0, pkts, 32)); }
        finally { for (int i = 0; i < 32; i++) HandMbufs.Free(pkts[i]); }
        Assert.Equal(32UL, Batched(lb.RxVring()));
        var buf = new byte[4096];
        for (ulong i = 0; i < 32; i++)
        {
            Assert.True(lb.Rx[0].TryReceive(buf, out RxInfo info));
            Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), i));
            Assert.Equal(100 + (int)i, info.Length);
        }
        Assert.Equal(0u, pool.InUse);
    }

    [Fact]
    public void Chains_take_the_single_path_and_the_batch_resumes_at_the_next_cache_line()
    {
        using var lb = new PackedLoopback(ringSize: 256);
        using Mempool pool = TestPools.Create();
        lb.Device.StatsEnabled = true;
        // Slots 0-2: one 3-descriptor chain (single path). Slot 3: one packet, single (not aligned). Slots 4-7: a
        // batch. Slots 8-10: three packets, single (not four left).
        PostTx(lb.Tx[0], 1, shape: new TxShape(SeparateHeader: true, DataDescriptors: 2));
        PostTx(lb.Tx[0], 8, seq0: 1);
        Assert.Equal(Enumerable.Range(0, 9).Select(i => (ulong)i), DequeueSeqs(lb, pool));
        Assert.Equal(4UL, Batched(lb.TxVring()));
        Assert.Equal(11u, lb.TxVring().LastAvailIdx);
    }

    [Fact]
    public void Fewer_than_four_wanted_take_the_single_path()
    {
        using var lb = new PackedLoopback(ringSize: 64);
        using Mempool pool = TestPools.Create();
        lb.Device.StatsEnabled = true;
        PostTx(lb.Tx[0], 8);
        Assert.Equal(3, DequeueSeqs(lb, pool, max: 3).Count);
        Assert.Equal(0UL, Batched(lb.TxVring()));
        Assert.Equal(5, DequeueSeqs(lb, pool).Count);   // slot 3 single, 4-7 batch
        Assert.Equal(4UL, Batched(lb.TxVring()));
    }

    [Fact]
    public void Case17_batch_of_4_with_one_bad_entry_falls_back_and_drops_only_that_one()
    {
        using var h = new PackedHostile(ringSize: 64);
        h.Lb.Device.StatsEnabled = true;
        // Slots 0-3: good, good, outside memory, good. Then a full good batch at 4-7.
        h.PostGoodTx(0, 64);
        h.PostGoodTx(1, 64);
        ushort bad = h.Tx.RawTakeBuffer();
        h.Tx.RawPost(bad, new RawDesc(0x10, 64 + (uint)h.Hdr));
        h.PostGoodTx(3, 64);
        for (ulong s = 4; s < 8; s++) h.PostGoodTx(s, 64);
        h.Tx.Publish();
        List<byte[]> got = h.Dequeue();
        Assert.Equal(new ulong[] { 0, 1, 3, 4, 5, 6, 7 }, got.Select(b => Payload.Seq(b)));
        Assert.Equal(1UL, h.TxRing.Stats.Drops(DropReason.BufferOutsideMemory));
        Assert.Equal(1UL, h.TxRing.Stats.TotalDrops);
        Assert.Equal(4UL, Batched(h.TxRing));   // only the second line went as a batch
        Assert.Contains(h.UsedSince(h.Tx, 0), u => u.Id == bad && u.Len == 0);
        Assert.Equal(8, h.Tx.ReapTx());
        Assert.Equal(0u, h.Pool.InUse);
    }

    [Fact]
    public void Case17_rx_batch_with_one_readable_entry_writes_the_other_three_and_drops_it()
    {
        using var h = new PackedHostile(ringSize: 64);
        h.Lb.Device.StatsEnabled = true;
        Assert.True(h.Rx.PostRx(2048));
        ushort ro = h.Rx.RawTakeBuffer();
        new Span<byte>(h.Rx.Buffers.Host(ro), 2048).Fill(0x5C);
        h.Rx.RawPost(ro, new RawDesc(h.Buf(h.Rx, ro), 2048));   // readable: the device must not write it
        Assert.True(h.Rx.PostRx(2048));
        Assert.True(h.Rx.PostRx(2048));
        h.Rx.Publish();
        Mbuf** pkts = stackalloc Mbuf*[4];
        for (int i = 0; i < 4; i++) pkts[i] = HandMbufs.Make(Payload.Make(80, (ulong)i));
        try { Assert.Equal(3, h.Lb.Device.EnqueueBurst(0, pkts, 4)); }
        finally { for (int i = 0; i < 4; i++) HandMbufs.Free(pkts[i]); }
        Assert.Equal(1UL, h.RxRing.Stats.Drops(DropReason.WrongDirection));
        Assert.Equal(0UL, Batched(h.RxRing));
        Assert.True(new ReadOnlySpan<byte>(h.Rx.Buffers.Host(ro), 2048).IndexOfAnyExcept((byte)0x5C) < 0);
        var buf = new byte[4096];
        var seen = new List<ulong>();
        while (h.Rx.TryReceive(buf, out RxInfo info))
            if (info.UsedLen != 0) seen.Add(Payload.Seq(buf));
        Assert.Equal(new ulong[] { 0, 1, 2 }, seen);
        Assert.True(h.Lb.GuardsIntact());
    }

    [Theory]
    [InlineData(0)]                 // AVAIL and USED both clear (the pattern of a used descriptor of lap 0)
    [InlineData(Avail | Used)]      // both set: a used descriptor of lap 1
    [InlineData(Used)]              // the avail pattern of the other lap (wrap counter confusion)
    public void Case17_descriptors_with_a_wrong_avail_used_combination_are_not_available(ushort ownership)
    {
        using var h = new PackedHostile(ringSize: 16);
        ushort id = h.Tx.RawTakeBuffer();
        h.Tx.Buffers.Write(h.Buf(h.Tx, id), new byte[h.Hdr]);
        h.Tx.RawPost(id, new RawDesc(h.Buf(h.Tx, id), 100, ExactFlags: ownership));   // lap 1 expects AVAIL only
        h.Tx.Publish();
        Assert.Empty(h.Dequeue());
        Assert.Equal(0UL, h.TxRing.Stats.TotalDrops);   // not available is not an error
        Assert.Equal(((ushort)0, true), (h.TxRing.LastAvailIdx, h.TxRing.AvailWrapCounter));
        Assert.Equal(0u, h.Lb.Device.RxQueueCount(1));
        // The driver fixes the flags: the descriptor is taken.
        h.Tx.RawWriteDesc(0, h.Buf(h.Tx, id), 100, id, Avail);
        Assert.Equal(1u, h.Lb.Device.RxQueueCount(1));
        Assert.Single(h.Dequeue());
        Assert.False(h.TxRing.IsBroken);
    }

    [Fact]
    public void Case17_a_stale_descriptor_of_the_last_lap_is_not_taken_after_the_ring_wraps()
    {
        using var lb = new PackedLoopback(ringSize: 8);
        using Mempool pool = TestPools.Create();
        PackedRingDriver tx = lb.Tx[0];
        // One whole lap: every slot used once, the device's wrap counter flips.
        PostTx(tx, 8);
        Assert.Equal(8, DequeueSeqs(lb, pool).Count);
        Assert.False(lb.TxVring().AvailWrapCounter);
        Assert.Equal(8, tx.ReapTx());
        // Slot 0 still holds lap 1's descriptor, now marked used (AVAIL = USED = 1); in lap 0 "available" means
        // AVAIL = 0, USED = 1. A driver that forgot to flip its wrap counter writes AVAIL only: not available.
        tx.RawWriteDesc(0, tx.Buffers.Gpa(0), 100, 0, Avail);
        Assert.Empty(DequeueSeqs(lb, pool));
        Assert.Equal(0UL, lb.TxVring().Stats.TotalDrops);
    }

    [Fact]
    public void Used_descriptors_carry_the_buffer_id_the_length_and_the_used_wrap_pattern()
    {
        using var lb = new PackedLoopback(ringSize: 8);
        PackedRingDriver rx = lb.Rx[0];
        Mbuf** pkts = stackalloc Mbuf*[8];
        for (int lap = 0; lap < 3; lap++)
        {
            Assert.Equal(8, rx.FillRx(2048));
            rx.Publish();
            for (int i = 0; i < 8; i++) pkts[i] = HandMbufs.Make(Payload.Make(60 + i, (ulong)i));
            try { Assert.Equal(8, lb.Device.EnqueueBurst(0, pkts, 8)); }
            finally { for (int i = 0; i < 8; i++) HandMbufs.Free(pkts[i]); }
            bool wrap = lap % 2 == 0;   // the used wrap counter of this lap
            for (uint s = 0; s < 8; s++)
            {
                VringPackedDesc d = rx.RawAt(s);
                Assert.Equal((ushort)(Write | (wrap ? Avail | Used : 0)), d.Flags);
                Assert.Equal((uint)(60 + s + rx.HeaderSize), d.Len);
            }
            var buf = new byte[2048];
            for (int i = 0; i < 8; i++) Assert.True(rx.TryReceive(buf, out _));
        }
        Assert.Equal((ushort)0, lb.RxVring().LastUsedIdx);
        Assert.False(lb.RxVring().UsedWrapCounter);   // three laps: 1 → 0 → 1 → 0
    }

    [Fact]
    public void Ring_wraps_many_times_with_mixed_chains_and_bursts()
    {
        // 37 entries: not a power of two, chains of 1-5 descriptors cross the ring's end at every offset.
        using var lb = new PackedLoopback(Loopback.With(VirtioFeatures.NetMrgRxbuf, VirtioFeatures.RingIndirectDesc), ringSize: 37);
        using Mempool pool = TestPools.Create();
        lb.Device.StatsEnabled = true;
        PackedRingDriver tx = lb.Tx[0], rx = lb.Rx[0];
        var r = new Random(17);
        var header = new byte[tx.HeaderSize];
        var mbufs = new nint[32];
        var buf = new byte[16384];
        ulong sent = 0, received = 0;
        int flips = 0, held = 0;
        bool lastWrap = lb.TxVring().AvailWrapCounter;
        for (int round = 0; round < 2000; round++)
        {
            for (int k = r.Next(1, 9); k > 0; k--)
            {
                int size = r.Next(1, 3000);
                TxShape shape = new(SeparateHeader: r.Next(2) == 0, DataDescriptors: Math.Max(r.Next(1, 4), size / 1800 + 1), Indirect: r.Next(4) == 0);
                if (!tx.PostTx(header, Payload.Make(size, sent), shape)) break;
                sent++;
            }
            tx.Publish();
            rx.FillRx(1024, r.Next(1, 3));
            rx.Publish();
            // Packets the RX ring could not take yet wait in front of the next ones.
            held += lb.Device.DequeueBurst(1, pool, mbufs.AsSpan(held));
            int e = lb.Device.EnqueueBurst(0, mbufs.AsSpan(0, held));
            fixed (nint* p = mbufs) MbufOps.FreeBulk((Mbuf**)p, (uint)e);
            mbufs.AsSpan(e, held - e).CopyTo(mbufs);
            held -= e;
            tx.ReapTx();
            while (rx.TryReceive(buf, out RxInfo info))
            {
                Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), received), $"packet {received}");
                received++;
            }
            if (lb.TxVring().AvailWrapCounter != lastWrap)
            {
                flips++;
                lastWrap = !lastWrap;
            }
        }
        fixed (nint* p = mbufs) MbufOps.FreeBulk((Mbuf**)p, (uint)held);
        Assert.True(received > 5000, $"only {received} packets");
        Assert.True(flips > 200, $"the wrap counter flipped {flips} times");
        Assert.True(Batched(lb.TxVring()) > 0 && Batched(lb.RxVring()) > 0, "the batch path never ran");
        Assert.Equal(0UL, lb.TxVring().Stats.TotalDrops + lb.RxVring().Stats.TotalDrops);
        Assert.Equal(0u, pool.InUse);
        Assert.True(lb.GuardsIntact());
    }
}
