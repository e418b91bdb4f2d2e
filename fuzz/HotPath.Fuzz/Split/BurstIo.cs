using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Fuzz.Core;

namespace HotPath.Fuzz.Split;

/// <summary>
/// The device side of one step, shared by the ring properties: a dequeue burst whose packets are compared with the
/// model's and freed, and an enqueue burst of packets built from specs (freed after it, as the caller keeps them).
/// </summary>
internal static unsafe class BurstIo
{
    /// <summary>Dequeues at most <paramref name="burst"/> packets from vring 1 and checks them against <paramref name="e"/>.</summary>
    public static void Dequeue(VhostDevice dev, Mempool pool, int burst, BurstExpectation e, string where, Func<string> trace)
    {
        var pkts = new nint[burst];
        ushort n = dev.DequeueBurst(1, pool, pkts);
        try
        {
            Expect.Equal(e.Returned, (int)n, $"{where}: packets dequeued [{trace()}]");
            for (int k = 0; k < n; k++)
            {
                byte[] got = PoolPackets.Bytes((Mbuf*)pkts[k], out string? malformed);
                Expect.True(malformed == null, $"{where}: packet {k}: {malformed}");
                Expect.True(got.AsSpan().SequenceEqual(e.Packets[k]),
                    $"{where}: packet {k} ({got.Length} bytes) differs from the chain's bytes ({e.Packets[k].Length}) [{trace()}]");
            }
        }
        finally
        {
            for (int k = 0; k < n; k++) MbufOps.Free((Mbuf*)pkts[k]);
        }
    }

    /// <summary>
    /// Builds <paramref name="specs"/> as mbuf chains (random bytes from <paramref name="seed"/>), asks the model
    /// (<paramref name="model"/>: packets and first-segment lengths) what to expect, enqueues them on vring 0 and
    /// frees them. Returns the expectation and how many the device took.
    /// </summary>
    public static (BurstExpectation, ushort) Enqueue(VhostDevice dev, Mempool pool, PacketSpec[] specs, int seed,
        Func<List<byte[]>, List<int>, BurstExpectation> model)
    {
        var packets = new List<byte[]>();
        var firstSeg = new List<int>();
        var mbufs = new nint[specs.Length];
        try
        {
            for (int k = 0; k < specs.Length; k++)
            {
                PacketSpec p = specs[k];
                var bytes = new byte[p.Len];
                new Random(seed * 7919 + k).NextBytes(bytes);
                // Segment size as asked, but at least 1 byte and at most 64 segments.
                int seg = Math.Clamp(Math.Max(p.SegmentData, (int)((p.Len + 63) / 64)), 1, FuzzPools.MbufRoom);
                packets.Add(bytes);
                firstSeg.Add(Math.Min(bytes.Length, seg));
                mbufs[k] = (nint)PoolPackets.Make(pool, bytes, seg);
            }
            BurstExpectation e = model(packets, firstSeg);
            return (e, dev.EnqueueBurst(0, mbufs));
        }
        finally
        {
            // The caller keeps its mbufs after an enqueue: all of them go back now.
            foreach (nint m in mbufs) if (m != 0) MbufOps.Free((Mbuf*)m);
        }
    }
}
