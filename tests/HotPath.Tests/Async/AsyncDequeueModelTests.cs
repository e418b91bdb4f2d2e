using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;

namespace HotPath.Tests.Async;

/// <summary>
/// The async dequeue against the synchronous one given the same guest traffic (issue 19): the same packets, the same
/// used entries in the same order and the same dirty-log bits (the used ring's; the copies write no guest memory);
/// and the packed ring, which dequeues synchronously inside the async call.
/// </summary>
public unsafe class AsyncDequeueModelTests
{
    private const int Batch = 16;

    private sealed class Side : IDisposable
    {
        public readonly Loopback Lb;
        public readonly FrontendDirtyLog Log;
        public readonly Mempool Pool = TestPools.Create(1024);

        public Side()
        {
            Lb = new Loopback(Loopback.With(VirtioFeatures.RingEventIdx, VirtioFeatures.RingIndirectDesc, VirtioFeatures.LogAll),
                ringSize: 256, bufferSize: 4096);
            Log = new FrontendDirtyLog(Lb.Memory.Regions.Max(r => r.GuestPhysAddr + r.Size));
            Lb.Attach.SetLogBase(Log);
        }

        public SplitRingDriver Tx => Lb.Tx[0];

        public void Dispose()
        {
            Lb.Dispose();
            Log.Dispose();
            Pool.Dispose();
        }
    }

    [Fact]
    public void Async_dequeue_with_an_out_of_order_channel_matches_the_synchronous_path_with_the_dirty_log_on()
    {
        using var sync = new Side();
        using var asy = new Side();
        var ch = new ShuffledLateChannel(seed: 13);
        Assert.Equal(AsyncError.None, asy.Lb.Device.AsyncChannelRegister(1, new AsyncFeatures(false, 128).Value, ch));
        int[] sizes = AsyncPackets.Sizes(seed: 21, count: 64);
        nint* got = stackalloc nint[Batch];
        for (int at = 0; at < sizes.Length; at += Batch)
        {
            int[] batch = sizes.Skip(at).Take(Batch).ToArray();
            for (int i = 0; i < batch.Length; i++)
            {
                AsyncDequeueTests.Post(sync.Tx, batch[i], (ulong)(at + i));
                AsyncDequeueTests.Post(asy.Tx, batch[i], (ulong)(at + i));
            }
            sync.Tx.Publish();
            asy.Tx.Publish();
            Assert.Equal(batch.Length, sync.Lb.Device.DequeueBurst(1, sync.Pool, new Span<nint>(got, Batch)));
            var expected = new List<byte[]>();
            for (int i = 0; i < batch.Length; i++)
            {
                expected.Add(HandMbufs.Bytes((Mbuf*)got[i]));
                MbufOps.Free((Mbuf*)got[i]);
            }
            AsyncDequeueTests.DequeueAll(asy.Lb.Device, asy.Pool, batch.Length, (i, p) =>
                Assert.True(HandMbufs.Bytes((Mbuf*)p).AsSpan().SequenceEqual(expected[i]), $"packet {at + i} differs"));
            // The same used entries, in the same order.
            Assert.Equal(sync.Tx.UsedIdx, asy.Tx.UsedIdx);
            for (ushort u = (ushort)at; u != sync.Tx.UsedIdx; u++)
            {
                VringUsedElem es = sync.Tx.RawUsed(u), ea = asy.Tx.RawUsed(u);
                Assert.Equal((es.Id, es.Len), (ea.Id, ea.Len));
            }
            Assert.Equal(batch.Length, sync.Tx.ReapTx());
            Assert.Equal(batch.Length, asy.Tx.ReapTx());
        }
        var ds = new HashSet<ulong>();
        var da = new HashSet<ulong>();
        sync.Log.Collect(ds);
        asy.Log.Collect(da);
        Assert.NotEmpty(ds);
        Assert.Equal(ds.Order(), da.Order());
        Assert.True(ch.OutOfOrderCompletions > 0, "the channel never completed out of order");
        Assert.True(ch.Transferred > 0);
        Assert.Equal(0UL, asy.Lb.TxVring().Stats.TotalDrops);
        Assert.Equal(0u, sync.Pool.InUse);
        Assert.Equal(0u, asy.Pool.InUse);
    }

    [Fact]
    public void A_packed_tx_ring_with_a_channel_dequeues_synchronously_inside_the_async_call()
    {
        using var lb = new PackedLoopback(ringSize: 64, bufferSize: 4096);
        using Mempool pool = TestPools.Create(256);
        var ch = new ShuffledLateChannel(seed: 4);
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(1, 0, ch));
        PackedRingDriver tx = lb.Tx[0];
        int hdr = tx.HeaderSize;
        for (int i = 0; i < 8; i++) Assert.True(tx.PostTx(new byte[hdr], Payload.Make(500 + 400 * i, (ulong)i)));
        tx.Publish();
        nint* got = stackalloc nint[16];
        Assert.Equal(8, lb.Device.AsyncTryDequeueBurst(1, pool, new Span<nint>(got, 16), out int inflight));
        Assert.Equal(0, inflight);
        for (int i = 0; i < 8; i++)
        {
            Assert.True(Payload.Matches(HandMbufs.Bytes((Mbuf*)got[i]), (ulong)i), $"packet {i} differs");
            MbufOps.Free((Mbuf*)got[i]);
        }
        Assert.Equal(8, tx.ReapTx());
        Assert.Equal(0L, ch.Transferred);
        Assert.Equal(0u, pool.InUse);
    }
}
