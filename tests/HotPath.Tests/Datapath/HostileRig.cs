using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// A loopback plus a pool for hostile-guest tests, whatever the ring type: write bad chains with the driver's raw
/// API next to good ones, run one burst, then check the outcome: which packets came through, which drops were
/// counted, and which used entries came back. A ring type says how to see the used entries a burst produced.
/// </summary>
internal abstract unsafe class HostileRig<TDriver> : IDisposable where TDriver : class, IRingDriver
{
    public Loopback<TDriver> Lb { get; }
    public Mempool Pool { get; }
    public TDriver Tx => Lb.Tx[0];
    public TDriver Rx => Lb.Rx[0];
    public Vring TxRing => Lb.TxVring();
    public Vring RxRing => Lb.RxVring();
    public int Hdr => Tx.HeaderSize;

    protected HostileRig(Loopback<TDriver> lb)
    {
        Lb = lb;
        Pool = TestPools.Create(count: 512);
    }

    /// <summary>The rig of <typeparamref name="TDriver"/>'s ring type: <see cref="Hostile"/> or <see cref="PackedHostile"/>.</summary>
    public static HostileRig<TDriver> Create(ulong features = 0, uint ringSize = 16, ulong[]? regionSizes = null,
        ulong regionGap = 0x20_0000, bool crossing = false) =>
        typeof(TDriver) == typeof(SplitRingDriver)
            ? (HostileRig<TDriver>)(object)new Hostile(features, ringSize, regionSizes, regionGap, crossing)
            : (HostileRig<TDriver>)(object)new PackedHostile(features, ringSize, regionSizes, regionGap, crossing);

    /// <summary>Where the used entries of the next burst will start (for <see cref="UsedSince"/>).</summary>
    protected abstract int UsedMark(TDriver d);

    /// <summary>The used entries (id, length) the device published from <paramref name="mark"/> on.</summary>
    public abstract List<(uint Id, uint Len)> UsedSince(TDriver d, int mark);

    /// <summary>Takes a free buffer id (split: a descriptor index; packed: a buffer id) for a raw chain.</summary>
    public abstract ushort TakeRaw(TDriver d);

    /// <summary>Gives a buffer id taken with <see cref="TakeRaw"/> back to the driver once its chain was reaped.</summary>
    public abstract void ReleaseRaw(TDriver d, ushort id);

    /// <summary>
    /// Writes <paramref name="chain"/> as one chain whose used entry will carry <paramref name="id"/> (from
    /// <see cref="TakeRaw"/>), flags as given (NEXT included), and queues it for the next publish. Split takes a
    /// fresh descriptor for each entry after the first and links them with next; packed fills the next ring slots.
    /// </summary>
    public abstract void PostRaw(TDriver d, ushort id, params RawDesc[] chain);

    /// <summary>
    /// Writes <paramref name="entries"/> in order into the indirect table area owned by <paramref name="id"/> and returns
    /// its gpa. Split links entry i to i + 1 through next (a NEXT flag is the caller's); packed tables are read in order.
    /// </summary>
    public ulong WriteIndirect(TDriver d, ushort id, params RawDesc[] entries)
    {
        ulong table = 0;
        for (int i = 0; i < entries.Length; i++) table = WriteIndirectEntry(d, id, i, entries[i]);
        return table;
    }

    /// <summary>Writes entry <paramref name="entry"/> of <paramref name="id"/>'s indirect table; returns the table's gpa.</summary>
    protected abstract ulong WriteIndirectEntry(TDriver d, ushort id, int entry, RawDesc e);

    /// <summary>The bytes of an indirect table holding <paramref name="entries"/> in this ring type's descriptor layout
    /// (for tables placed anywhere in guest memory).</summary>
    public abstract byte[] IndirectTableBytes(params RawDesc[] entries);

    /// <summary>Gpa of a driver-owned buffer for id <paramref name="id"/> (for raw descriptors).</summary>
    public ulong Buf(TDriver d, ushort id) => d.Buffers.Gpa(id);

    /// <summary>Publishes what is posted on TX and checks one dequeue burst brings exactly the packet carrying
    /// <paramref name="seq"/>, with nothing dropped.</summary>
    public void ExpectTxDelivered(ulong seq)
    {
        Tx.Publish();
        Assert.True(Payload.Matches(Assert.Single(Dequeue()), seq));
        Assert.Equal(0UL, TxRing.Stats.TotalDrops);
    }

    /// <summary>Posts a well-formed TX packet of <paramref name="size"/> bytes carrying <paramref name="seq"/>.</summary>
    public void PostGoodTx(ulong seq, int size = 100) => Assert.True(Tx.PostTx(new byte[Hdr], Payload.Make(size, seq)));

    /// <summary>One dequeue burst; returns each packet's bytes and frees the mbufs.</summary>
    public List<byte[]> Dequeue(int max = 32)
    {
        var mbufs = new nint[max];
        ushort n = Lb.Device.DequeueBurst(1, Pool, mbufs);
        var list = new List<byte[]>();
        for (int i = 0; i < n; i++)
        {
            var m = (Mbuf*)mbufs[i];
            list.Add(HandMbufs.Bytes(m));
            MbufOps.Free(m);
        }
        return list;
    }

    /// <summary>Enqueues one packet of <paramref name="size"/> bytes carrying <paramref name="seq"/>; returns the count.</summary>
    public int Enqueue(ulong seq, int size = 100)
    {
        Mbuf* m = HandMbufs.Make(Payload.Make(size, seq));
        try { return Lb.Device.EnqueueBurst(0, &m, 1); }
        finally { HandMbufs.Free(m); }
    }

    /// <summary>
    /// The bad TX chain <paramref name="bad"/> is already in the ring (raw or posted). Adds a good packet, runs one
    /// dequeue burst and checks: the good packet arrived, exactly one drop for <paramref name="reason"/>, the bad chain
    /// came back used with length 0, no byte outside the buffers changed; then the ring still works.
    /// </summary>
    public void ExpectTxDrop(DropReason reason, ushort bad)
    {
        int mark = UsedMark(Tx);
        PostGoodTx(seq: 7);
        Tx.Publish();
        List<byte[]> got = Dequeue();
        Assert.True(Payload.Matches(Assert.Single(got), 7));
        AssertOneDrop(TxRing, Tx, mark, reason, bad);
        Assert.Equal(2, Tx.ReapTx());
        PostGoodTx(seq: 8);
        Tx.Publish();
        Assert.True(Payload.Matches(Assert.Single(Dequeue()), 8));
    }

    /// <summary>
    /// The bad RX chain <paramref name="bad"/> is already in the ring. Adds a good buffer, enqueues one packet and
    /// checks it landed in the good buffer, with one drop for <paramref name="reason"/> and the bad chain used with
    /// length 0.
    /// </summary>
    public void ExpectRxDrop(DropReason reason, ushort bad)
    {
        int mark = UsedMark(Rx);
        Assert.True(Rx.PostRx(2048));
        Rx.Publish();
        Assert.Equal(1, Enqueue(seq: 9));
        AssertOneDrop(RxRing, Rx, mark, reason, bad);
        var buf = new byte[4096];
        bool sawPacket = false;
        while (Rx.TryReceive(buf, out var info))
            if (info.UsedLen != 0) sawPacket = Payload.Matches(buf.AsSpan(0, info.Length), 9);
        Assert.True(sawPacket, "the good RX buffer did not receive the packet");
    }

    /// <summary>
    /// Asserts the burst dropped exactly one chain for <paramref name="reason"/> (and nothing else), returned
    /// <paramref name="badId"/> as used with length 0, and that the ring was not marked broken.
    /// </summary>
    public void AssertOneDrop(Vring ring, TDriver d, int mark, DropReason reason, ushort badId)
    {
        Assert.Equal(1UL, ring.Stats.Drops(reason));
        Assert.Equal(1UL, ring.Stats.TotalDrops);
        Assert.False(ring.IsBroken);
        Assert.Contains(UsedSince(d, mark), e => e.Id == badId && e.Len == 0);
        Assert.True(Lb.GuardsIntact(), "a byte outside the driver's buffers changed");
        Assert.Equal(0u, Pool.InUse);
    }

    public void Dispose()
    {
        Pool.Dispose();
        Lb.Dispose();
    }
}
