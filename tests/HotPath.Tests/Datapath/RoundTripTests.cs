using HotPath.Engine.Buffers;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// Guest TX → dequeue → mbufs → enqueue → guest RX over real memfd memory and split rings: every byte and the
/// virtio-net header checked, the pool back to zero mbufs in use.
/// </summary>
public unsafe class RoundTripTests
{
    [Theory]
    [MemberData(nameof(DatapathModes.All), MemberType = typeof(DatapathModes))]
    public void Packets_survive_guest_to_host_to_guest_byte_exact(bool mrg, bool indirect, bool eventIdx)
    {
        using var lb = new Loopback(DatapathModes.Features(mrg, indirect, eventIdx), ringSize: 256, bufferSize: 4096, interrupts: true);
        RoundTrips.ByteExact(lb, mrg, indirect, randomSizes: 40);
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
