using HotPath.Engine.Buffers;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// The round trip both ring types run: guest TX → dequeue → mbufs → enqueue → guest RX, one packet at a time over the
/// sizes every round trip covers and random ones, in every TX layout, each byte and the header checked.
/// </summary>
internal static unsafe class RoundTrips
{
    private static readonly TxShape[] Shapes =
    {
        TxShape.Single, TxShape.HeaderApart, new(DataDescriptors: 3), new(SeparateHeader: true, DataDescriptors: 4),
    };

    /// <summary>Runs the sizes through <paramref name="lb"/> (4 KiB driver buffers) and checks the pool, guards, drops and descriptors after.</summary>
    public static void ByteExact<TDriver>(Loopback<TDriver> lb, bool mrg, bool indirect, int randomSizes) where TDriver : class, IRingDriver
    {
        using Mempool pool = TestPools.Create();
        TDriver tx = lb.Tx[0], rx = lb.Rx[0];
        int hdr = tx.HeaderSize;
        var header = new byte[hdr];
        int[] sizes = Payload.WithRandom(seed: 5, count: randomSizes);
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
            Assert.Equal((uint)(size + hdr), info.UsedLen);
            while (rx.TryReceive(got, out _)) { }
        }
        Assert.Equal(0u, pool.InUse);
        Assert.True(lb.GuardsIntact());
        Assert.Equal(0UL, lb.TxVring().Stats.TotalDrops + lb.RxVring().Stats.TotalDrops);
        Assert.Equal((int)tx.Size, tx.FreeDescriptors);
        Assert.Equal(0, tx.InFlight);
    }
}
