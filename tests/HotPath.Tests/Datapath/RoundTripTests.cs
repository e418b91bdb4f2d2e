using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// Guest TX → dequeue → mbufs → enqueue → guest RX over real memfd memory and split rings: every byte and the
/// virtio-net header checked, the pool back to zero mbufs in use.
/// </summary>
public unsafe class RoundTripTests
{
    private static readonly TxShape[] Shapes =
    {
        TxShape.Single, TxShape.HeaderApart, new(DataDescriptors: 3), new(SeparateHeader: true, DataDescriptors: 4),
    };

    [Theory]
    [MemberData(nameof(DatapathModes.All), MemberType = typeof(DatapathModes))]
    public void Packets_survive_guest_to_host_to_guest_byte_exact(bool mrg, bool indirect, bool eventIdx)
    {
        using var lb = new Loopback(DatapathModes.Features(mrg, indirect, eventIdx), ringSize: 256, bufferSize: 4096, interrupts: true);
        using Mempool pool = TestPools.Create();
        SplitRingDriver tx = lb.Tx[0], rx = lb.Rx[0];
        int hdr = tx.HeaderSize;
        var header = new byte[hdr];
        int[] sizes = Payload.WithRandom(seed: 5, count: 40);
        nint* mbufs = stackalloc nint[32];
        var got = new byte[16384];
        ulong seq = 0;
        foreach (int size in sizes)
        {
            TxShape shape = Shapes[seq % (ulong)Shapes.Length] with { Indirect = indirect && seq % 2 == 0 };
            if (size + hdr > 4096 * Math.Max(1, shape.DataDescriptors) - hdr) shape = shape with { DataDescriptors = 4 };
            byte[] pkt = Payload.Make(size, ++seq);
            Assert.True(tx.PostTx(header, pkt, shape));
            tx.Publish();
            if (mrg) rx.FillRx(2048, indirect ? 2 : 1, indirect);
            else Assert.True(rx.PostRx((uint)(size + hdr), (size + hdr + 4095) / 4096, indirect));
            rx.Publish();

            ushort n = lb.Device.DequeueBurst(1, pool, new Span<nint>(mbufs, 32));
            Assert.Equal(1, n);
            var m = (Mbuf*)mbufs[0];
            Assert.Equal((uint)size, m->PktLen);
            Assert.Equal(size > 2048 ? (size + 2047) / 2048 : 1, m->NbSegs);
            Assert.Equal(0UL, m->OlFlags);
            Assert.Equal(1, lb.Device.EnqueueBurst(0, new ReadOnlySpan<nint>(mbufs, 1)));
            MbufOps.Free(m);

            Assert.Equal(1, tx.ReapTx());
            Assert.True(rx.TryReceive(got, out RxInfo info));
            Assert.Equal(size, info.Length);
            Assert.True(Payload.Matches(got.AsSpan(0, size), seq), $"{size}-byte packet (shape {shape}) differs");
            Assert.Equal(0, info.Header.Flags);
            Assert.Equal(0, info.Header.GsoType);
            Assert.Equal(0, info.Header.GsoSize);
            Assert.Equal(0, info.Header.CsumStart);
            Assert.Equal(0, info.Header.CsumOffset);
            if (mrg) Assert.Equal(info.Buffers, info.Header.NumBuffers);
            while (rx.TryReceive(got, out _)) { }
        }
        Assert.Equal(0u, pool.InUse);
        Assert.True(lb.GuardsIntact());
        Assert.Equal(0UL, lb.TxVring().Stats.TotalDrops + lb.RxVring().Stats.TotalDrops);
        Assert.Equal(tx.Size, (uint)tx.FreeDescriptors);
    }

    [Fact]
    public void A_full_burst_of_mixed_sizes_dequeues_in_order()
    {
        using var lb = new Loopback(ringSize: 256, bufferSize: 2048);
        using Mempool pool = TestPools.Create();
        SplitRingDriver tx = lb.Tx[0];
        var header = new byte[tx.HeaderSize];
        int[] sizes = Payload.WithRandom(seed: 9, count: 58, max: 2000).Where(s => s <= 2000).ToArray();
        for (int i = 0; i < sizes.Length; i++) Assert.True(tx.PostTx(header, Payload.Make(sizes[i], (ulong)i)));
        tx.Publish();
        Assert.Equal((uint)sizes.Length, lb.Device.RxQueueCount(1));
        var mbufs = new nint[64];
        int total = 0;
        while (total < sizes.Length)
        {
            ushort n = lb.Device.DequeueBurst(1, pool, mbufs.AsSpan(0, 32));
            Assert.True(n > 0);
            for (int i = 0; i < n; i++)
            {
                var m = (Mbuf*)mbufs[i];
                Assert.Equal((uint)sizes[total + i], m->PktLen);
                Assert.True(Payload.Matches(new ReadOnlySpan<byte>(m->Data, m->DataLen), (ulong)(total + i)));
                MbufOps.Free(m);
            }
            total += n;
        }
        Assert.Equal(0u, lb.Device.RxQueueCount(1));
        Assert.Equal(sizes.Length, tx.ReapTx());
        Assert.Equal(0u, pool.InUse);
    }
}
