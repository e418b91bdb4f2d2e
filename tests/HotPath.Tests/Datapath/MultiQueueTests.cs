using HotPath.Engine.Buffers;
using HotPath.Frontend.Rings;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Datapath;

/// <summary>Four queue pairs, each driven by its own thread (guest and host side), concurrently.</summary>
[Collection(SerialCollection.Name)]
public unsafe class MultiQueueTests
{
    [Fact]
    public void Four_queue_pairs_on_four_threads_lose_and_duplicate_nothing()
    {
        const int pairs = 4, perQueue = 20000;
        using var lb = new Loopback(queuePairs: pairs, ringSize: 256);
        using Mempool pool = TestPools.Create(count: 4096);
        var errors = new string?[pairs];
        Workers.Run(Enumerable.Range(0, pairs)
            .Select(q => (Action<CancellationToken>)(stop => errors[q] = RunPair(lb, pool, q, perQueue, stop))).ToArray());
        Assert.All(errors, e => Assert.Null(e));
        Assert.Equal(0u, pool.InUse);
        for (int q = 0; q < pairs; q++)
        {
            Assert.Equal(0UL, lb.RxVring(q).Stats.TotalDrops);
            Assert.Equal(0UL, lb.TxVring(q).Stats.TotalDrops);
        }
    }

    /// <summary>
    /// Guest TX on queue pair q carries sequence numbers (tagged with q); the host thread dequeues them and enqueues
    /// them back to the same pair's RX; the guest side checks each arrives exactly once, in order, intact.
    /// </summary>
    private static string? RunPair(Loopback lb, Mempool pool, int q, int count, CancellationToken stop)
    {
        SplitRingDriver tx = lb.Tx[q], rx = lb.Rx[q];
        var header = new byte[tx.HeaderSize];
        var pkt = new byte[128];
        var got = new byte[4096];
        var mbufs = new nint[32];
        ulong sent = 0, next = 0;
        int spins = 0;
        while (next < (ulong)count)
        {
            if (stop.IsCancellationRequested) return $"qp{q}: stopped at {next}";
            while (sent < (ulong)count && tx.FreeDescriptors > 0)
            {
                Payload.Fill(pkt, ((ulong)q << 56) | sent);
                if (!tx.PostTx(header, pkt)) break;
                sent++;
            }
            tx.Publish();
            rx.FillRx(2048);
            rx.Publish();
            ushort n = lb.Device.DequeueBurst(2 * q + 1, pool, mbufs);
            if (n > 0)
            {
                ushort e = lb.Device.EnqueueBurst(2 * q, mbufs.AsSpan(0, n));
                // Anything the RX ring could not take is dropped here, which the check below would catch as a gap.
                fixed (nint* p = mbufs) MbufOps.FreeBulk((Mbuf**)p, n);
                if (e != n) return $"qp{q}: enqueued {e} of {n} with {rx.FreeDescriptors} RX descriptors free";
            }
            tx.ReapTx();
            while (rx.TryReceive(got, out RxInfo info))
            {
                if (info.Length != 128) return $"qp{q}: packet of {info.Length} bytes";
                ulong seq = Payload.Seq(got);
                ulong want = ((ulong)q << 56) | next;
                if (seq != want) return $"qp{q}: expected seq {next}, got {seq & 0xFFFF_FFFF} of queue {seq >> 56}";
                if (!Payload.Matches(got.AsSpan(0, 128), seq)) return $"qp{q}: payload of {next} corrupted";
                next++;
            }
            if (n == 0 && ++spins > 10_000_000) return $"qp{q}: stuck at {next}";
        }
        return null;
    }
}
