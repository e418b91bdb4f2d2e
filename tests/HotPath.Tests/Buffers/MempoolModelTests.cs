using HotPath.Engine.Buffers;
using HotPath.Engine.Interop;

namespace HotPath.Tests.Buffers;

/// <summary>
/// Random sequences of alloc, bulk alloc, chain building, refcnt bumps, free and bulk free on one thread, checked
/// against a model of who holds what: no object is ever handed out while held, InUse always equals the model.
/// </summary>
public unsafe class MempoolModelTests
{
    [Theory]
    [InlineData(0u, 11)]
    [InlineData(8u, 12)]
    [InlineData(40u, 13)]
    public void Operation_sequences_match_a_model_of_held_objects(uint cache, int seed)
    {
        const uint Count = 200;
        var rng = new Random(seed);
        using var pool = Mempool.Create(PoolFixtures.Name("model"), Count, cache, 512, MempoolFlags.NoHuge);
        var refs = new Dictionary<nint, int>();      // segment -> references held
        var packets = new List<nint>();              // chain heads we hold (a head per reference)
        nint* buf = stackalloc nint[64];

        void Took(Mbuf* m)
        {
            Assert.True(MempoolHeader.Owns(pool.Header, m));
            Assert.False(refs.ContainsKey((nint)m), "handed out while held");
            Assert.Equal(1, m->RefCnt);
            Assert.True(m->Next == null);
            refs[(nint)m] = 1;
            packets.Add((nint)m);
        }

        void Released(nint head)
        {
            for (var m = (Mbuf*)head; m != null;)
            {
                Mbuf* next = m->Next;              // read before the model forgets it; the pool may reuse it later
                if (--refs[(nint)m] == 0) refs.Remove((nint)m);
                m = next;
            }
        }

        for (int op = 0; op < 20_000; op++)
        {
            int held = refs.Count;
            switch (rng.Next(6))
            {
                case 0:
                {
                    Mbuf* m = pool.Alloc();
                    // One thread: its cache and the ring hold every free object, so alloc fails only when none is.
                    if (held == Count) Assert.True(m == null);
                    else
                    {
                        Assert.True(m != null, "alloc failed with objects free");
                        Took(m);
                    }
                    break;
                }
                case 1:
                {
                    uint n = (uint)rng.Next(1, 64);
                    int rc = MbufOps.AllocBulk(pool.Header, (Mbuf**)buf, n);
                    if (held + n > Count) Assert.Equal(-LibC.ENOMEM, rc);
                    else Assert.Equal(0, rc);            // one thread: its cache and the ring hold every free object
                    if (rc == 0) for (uint i = 0; i < n; i++) Took((Mbuf*)buf[i]);
                    break;
                }
                case 2 when packets.Count >= 2:
                {
                    // Append one held single-segment packet to another packet's chain.
                    int a = rng.Next(packets.Count), b = rng.Next(packets.Count);
                    var head = (Mbuf*)packets[a];
                    var seg = (Mbuf*)packets[b];
                    if (a == b || seg->NbSegs != 1 || refs[packets[b]] != 1 || refs[packets[a]] != 1) break;
                    Mbuf* tail = head;
                    while (tail->Next != null) tail = tail->Next;
                    tail->Next = seg;
                    head->NbSegs++;
                    packets.RemoveAt(b);
                    break;
                }
                case 3 when packets.Count > 0:
                {
                    // Share a packet: one more reference on every segment, one more head in our hands.
                    nint h = packets[rng.Next(packets.Count)];
                    for (var m = (Mbuf*)h; m != null; m = m->Next)
                    {
                        MbufOps.RefCntUpdate(m, 1);
                        refs[(nint)m]++;
                    }
                    packets.Add(h);
                    break;
                }
                case 4 when packets.Count > 0:
                {
                    int i = rng.Next(packets.Count);
                    nint h = packets[i];
                    packets.RemoveAt(i);
                    Released(h);
                    MbufOps.Free((Mbuf*)h);
                    break;
                }
                case 5 when packets.Count > 0:
                {
                    int n = Math.Min(packets.Count, rng.Next(1, 40));
                    int k = 0;
                    for (int i = 0; i < n; i++)
                    {
                        if (rng.Next(5) == 0) buf[k++] = 0;  // nulls are skipped
                        int j = rng.Next(packets.Count);
                        buf[k++] = packets[j];
                        packets.RemoveAt(j);
                    }
                    for (int i = 0; i < k; i++) if (buf[i] != 0) Released(buf[i]);
                    MbufOps.FreeBulk((Mbuf**)buf, (uint)k);
                    break;
                }
            }
            Assert.Equal((uint)refs.Count, pool.InUse);
        }
        foreach (nint h in packets) MbufOps.Free((Mbuf*)h);
        Assert.Equal(0u, pool.InUse);
        Assert.Equal(0UL, pool.BadFrees);
    }
}
