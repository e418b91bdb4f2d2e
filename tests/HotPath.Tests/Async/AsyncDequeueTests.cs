using System.Runtime.InteropServices;
using HotPath.Engine;
using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;

namespace HotPath.Tests.Async;

/// <summary>
/// Split-ring async dequeue (issue 19, hp_vhost_async_try_dequeue_burst) over real memfd guest memory and HotPath's
/// ring drivers: byte-exact packets of 64 to 9000 bytes in every TX layout, returned in ring order while the channel
/// completes out of order and late; used entries only after the copies; bad chains; the built-in engine.
/// </summary>
public unsafe class AsyncDequeueTests
{
    private static readonly TxShape[] Shapes =
    {
        TxShape.Single, TxShape.HeaderApart, new(DataDescriptors: 3), new(SeparateHeader: true, DataDescriptors: 4),
        new(DataDescriptors: 2, Indirect: true),   // the loopbacks below negotiate INDIRECT_DESC
    };

    /// <summary>Posts one TX packet carrying <paramref name="seq"/> (shape by sequence) and returns its head.</summary>
    internal static ushort Post(SplitRingDriver tx, int size, ulong seq)
    {
        TxShape shape = Shapes[seq % (ulong)Shapes.Length];
        int hdr = tx.HeaderSize;
        if (size + hdr > 4096 * Math.Max(1, shape.DataDescriptors) - hdr) shape = shape with { DataDescriptors = 4 };
        Assert.True(tx.PostTx(new byte[hdr], Payload.Make(size, seq), shape));
        return tx.LastPostedHead;
    }

    /// <summary>The used entries from 0 on are <paramref name="heads"/>, in order, each with length 0.</summary>
    internal static void AssertUsed(SplitRingDriver tx, List<ushort> heads)
    {
        Assert.Equal((ushort)heads.Count, tx.UsedIdx);
        for (ushort u = 0; u < heads.Count; u++)
        {
            VringUsedElem e = tx.RawUsed(u);
            Assert.Equal(((uint)heads[u], 0u), (e.Id, e.Len));
        }
    }

    /// <summary>
    /// Calls the async dequeue until <paramref name="want"/> packets came back (deadline), freeing each after
    /// <paramref name="check"/>; returns the last nr_inflight.
    /// </summary>
    internal static int DequeueAll(VhostDevice dev, Mempool pool, int want, Action<int, nint> check, ushort burst = 32)
    {
        nint* buf = stackalloc nint[burst];
        int got = 0, inflight = -1;
        var deadline = DateTime.UtcNow + AsyncPackets.Wait;
        while (got < want)
        {
            ushort n = dev.AsyncTryDequeueBurst(1, pool, new Span<nint>(buf, burst), out inflight);
            Assert.True(inflight >= 0, "no channel, or the ring was busy");
            for (int i = 0; i < n; i++, got++)
            {
                check(got, buf[i]);
                MbufOps.Free((Mbuf*)buf[i]);
            }
            if (n == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, $"only {got} of {want} packets came back");
                Thread.Yield();
            }
        }
        return inflight;
    }

    [Theory]
    [InlineData(false, 0u)]
    [InlineData(false, 256u)]
    [InlineData(true, 256u)]
    public void Async_dequeue_returns_64_to_9000_byte_packets_byte_exact_in_ring_order(bool inOrder, uint threshold)
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.RingEventIdx, VirtioFeatures.RingIndirectDesc), ringSize: 256, bufferSize: 4096);
        using Mempool pool = TestPools.Create(1024);
        lb.Device.StatsEnabled = true;
        var ch = new ShuffledLateChannel(seed: 11, inOrder);
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(1, new AsyncFeatures(inOrder, threshold).Value, ch));
        SplitRingDriver tx = lb.Tx[0];
        int[] sizes = AsyncPackets.Sizes(seed: 4, count: 96);
        var heads = new List<ushort>();
        ulong seq = 0;
        for (int at = 0; at < sizes.Length; at += 24)
        {
            int[] batch = sizes.Skip(at).Take(24).ToArray();
            foreach (int size in batch) heads.Add(Post(tx, size, seq++));
            tx.Publish();
            int inflight = DequeueAll(lb.Device, pool, batch.Length, (i, p) =>
            {
                var m = (Mbuf*)p;
                int k = at + i;
                Assert.Equal((uint)sizes[k], m->PktLen);
                Assert.Equal((sizes[k] + 2047) / 2048, m->NbSegs);
                Assert.True(Payload.Matches(HandMbufs.Bytes(m), (ulong)k), $"packet {k} ({sizes[k]} bytes) differs or is out of order");
            }, burst: 8);
            Assert.Equal(0, inflight);
            Assert.Equal(batch.Length, tx.ReapTx());
        }
        // Every chain used once, in ring order, with length 0.
        AssertUsed(tx, heads);
        if (!inOrder) Assert.True(ch.OutOfOrderCompletions > 0, "the channel never completed out of order");
        if (threshold == 0) Assert.Equal(ch.Transferred, ch.Completed);
        Assert.True(ch.Transferred > 0);
        Assert.Equal(0, lb.Device.AsyncInflight(1));
        Assert.Equal(0UL, lb.TxVring().Stats.TotalDrops);
        Assert.Equal((ulong)sizes.Length, lb.TxVring().Stats[VringStats.GoodPackets]);
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(1, out uint freed));
        Assert.Equal(0u, freed);
        Assert.Equal(0u, pool.InUse);
        Assert.True(lb.GuardsIntact());
    }

    [Fact]
    public void The_guest_gets_no_tx_buffer_back_until_its_copies_and_the_earlier_ones_completed()
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.RingEventIdx, VirtioFeatures.RingIndirectDesc), ringSize: 64, bufferSize: 4096);
        using Mempool pool = TestPools.Create(256);
        var ch = new ShuffledLateChannel(seed: 2) { Hold = true };
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(1, 0, ch));
        try
        {
            SplitRingDriver tx = lb.Tx[0];
            for (int i = 0; i < 16; i++) Post(tx, 1500, (ulong)i);
            tx.Publish();
            nint* buf = stackalloc nint[32];
            Assert.Equal(0, lb.Device.AsyncTryDequeueBurst(1, pool, new Span<nint>(buf, 32), out int inflight));
            Assert.Equal(16, inflight);
            Assert.Equal(16, lb.Device.AsyncInflight(1));
            Assert.Equal(16u, pool.InUse);
            Assert.Equal(0, tx.UsedIdx);
            Assert.Equal(16, lb.TxVring().LastAvailIdx);
            // Calls while the channel holds everything take nothing more and publish nothing.
            Assert.Equal(0, lb.Device.AsyncTryDequeueBurst(1, pool, new Span<nint>(buf, 32), out inflight));
            Assert.Equal(16, inflight);
            Assert.Equal(0, tx.UsedIdx);
            ch.Hold = false;
            ushort lastUsed = 0;
            DequeueAll(lb.Device, pool, 16, (i, p) =>
            {
                Assert.True(Payload.Matches(HandMbufs.Bytes((Mbuf*)p), (ulong)i), $"packet {i} differs");
                // The used index never runs ahead of the packets whose copies completed (returned so far, or ready).
                Assert.True(tx.UsedIdx >= lastUsed);
                lastUsed = tx.UsedIdx;
            });
            Assert.Equal(16, tx.UsedIdx);
            Assert.Equal(0u, pool.InUse);
        }
        finally
        {
            ch.Hold = false;   // a failed assertion must not leave the teardown waiting for the channel
        }
    }

    [Fact]
    public void Bad_chains_are_counted_and_used_in_ring_order_and_the_rest_of_the_burst_is_delivered()
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.RingIndirectDesc), ringSize: 64, bufferSize: 4096);
        using Mempool pool = TestPools.Create(256);
        var ch = new ShuffledLateChannel(seed: 6);
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(1, 0, ch));
        SplitRingDriver tx = lb.Tx[0];
        var heads = new List<ushort>();
        ulong seq = 0;
        for (int i = 0; i < 3; i++) heads.Add(Post(tx, 3000, seq++));
        // A head outside the table, then a chain whose descriptor is device-writable (wrong direction for TX).
        tx.RawPushAvail(0xFFFF);
        heads.Add(0xFFFF);
        ushort wrong = tx.RawTakeDescriptor();
        tx.RawWriteDesc(wrong, tx.Buffers.Gpa(wrong), 256, VringDesc.FlagWrite, 0);
        tx.RawPushAvail(wrong);
        heads.Add(wrong);
        for (int i = 0; i < 3; i++) heads.Add(Post(tx, 700 + 2000 * i, seq++));
        tx.Publish();
        DequeueAll(lb.Device, pool, 6, (i, p) =>
            Assert.True(Payload.Matches(HandMbufs.Bytes((Mbuf*)p), (ulong)i), $"good packet {i} differs or is out of order"));
        Vring v = lb.TxVring();
        Assert.Equal(1UL, v.Stats.Drops(DropReason.DescIndexOutOfRange));
        Assert.Equal(1UL, v.Stats.Drops(DropReason.WrongDirection));
        Assert.Equal(2UL, v.Stats.TotalDrops);
        AssertUsed(tx, heads);
        tx.RawRelease(wrong);
        Assert.Equal(0u, pool.InUse);
        Assert.Equal(0, lb.Device.AsyncInflight(1));
    }

    [Fact]
    public void The_built_in_engine_dequeues_byte_exact_and_a_burst_allocates_nothing_after_warm_up()
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.RingEventIdx, VirtioFeatures.RingIndirectDesc), ringSize: 256, bufferSize: 4096);
        using Mempool pool = TestPools.Create(1024);
        using var engine = new CopyEngine("hp-copy-deq");
        using CopyEngineChannel ch = engine.CreateChannel();
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(1, new AsyncFeatures(true, 64).Value, ch));
        SplitRingDriver tx = lb.Tx[0];
        int[] sizes = AsyncPackets.Sizes(seed: 9, count: 32);
        nint* buf = stackalloc nint[64];
        ulong seq = 0;
        for (int round = 0; round < 5; round++)
        {
            ulong first = seq;
            foreach (int size in sizes) Post(tx, size, seq++);
            tx.Publish();
            int got = 0;
            var deadline = DateTime.UtcNow + AsyncPackets.Wait;
            // Rounds after the first are measured: the dequeue calls allocate nothing.
            long before = GC.GetAllocatedBytesForCurrentThread();
            while (got < sizes.Length && DateTime.UtcNow < deadline)
                got += lb.Device.AsyncTryDequeueBurst(1, pool.Header, (Mbuf**)buf + got, (ushort)(sizes.Length - got), out _);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(sizes.Length, got);
            if (round > 0) Assert.Equal(0L, allocated);
            for (int i = 0; i < got; i++)
            {
                var m = (Mbuf*)buf[i];
                Assert.Equal((uint)sizes[i], m->PktLen);
                Assert.True(Payload.Matches(HandMbufs.Bytes(m), first + (ulong)i), $"{sizes[i]}-byte packet differs");
                MbufOps.Free(m);
            }
            Assert.Equal(sizes.Length, tx.ReapTx());
        }
        Assert.True(engine.Packets > 0);
        VringStats stats = lb.TxVring().Stats;
        Assert.Equal(5UL * (ulong)sizes.Length, stats[VringStats.InflightSubmitted]);
        Assert.Equal(5UL * (ulong)sizes.Length, stats[VringStats.InflightCompleted]);
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(1, out uint freed));
        Assert.Equal(0u, freed);
        Assert.Equal(0u, pool.InUse);
        Assert.True(lb.GuardsIntact());
    }

    [Fact]
    public void A_tso_request_is_turned_into_mbuf_offload_fields_while_the_data_goes_through_the_channel()
    {
        ulong features = Loopback.With(VirtioFeatures.NetCsum, VirtioFeatures.NetHostTso4, VirtioFeatures.RingIndirectDesc);
        using var lb = new Loopback(features, ringSize: 64, bufferSize: 4096);
        using Mempool pool = TestPools.Create(256);
        var ch = new ShuffledLateChannel(seed: 8);
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(1, 0, ch));
        SplitRingDriver tx = lb.Tx[0];
        byte[] frame = Frames.Ipv4(6, 3000);
        var h = new VirtioNetHeader
        {
            Flags = VirtioNetHeader.FlagNeedsCsum, GsoType = VirtioNetHeader.GsoTcpV4, GsoSize = 1448, CsumStart = 34, CsumOffset = 16,
        };
        var hdr = new byte[12];
        MemoryMarshal.Write(hdr, in h);
        Assert.True(tx.PostTx(hdr.AsSpan(0, tx.HeaderSize), frame, new(DataDescriptors: 2)));
        tx.Publish();
        DequeueAll(lb.Device, pool, 1, (_, p) =>
        {
            var m = (Mbuf*)p;
            Assert.True(HandMbufs.Bytes(m).AsSpan().SequenceEqual(frame));
            Assert.Equal(MbufOffload.TxTcpSeg | MbufOffload.TxTcpCksum | MbufOffload.TxIpv4, m->OlFlags);
            Assert.Equal(14, MbufOffload.L2Len(m->TxOffload));
            Assert.Equal(20, MbufOffload.L3Len(m->TxOffload));
        });
        // The headers were copied by the CPU at once, the rest by the channel.
        Assert.Equal(1L, ch.Transferred);
        Assert.Equal(0u, pool.InUse);
    }
}
