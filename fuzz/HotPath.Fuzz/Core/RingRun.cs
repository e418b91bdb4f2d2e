using FsCheck;
using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;
using HotPath.Fuzz.Memory;
using HotPath.Fuzz.Split;

namespace HotPath.Fuzz.Core;

/// <summary>What every ring step says, split or packed: which ring, the dequeue burst size, the packets to enqueue.</summary>
public interface IRingStep
{
    bool Tx { get; }
    int Burst { get; }
    PacketSpec[] Packets { get; }
}

/// <summary>The reference model of one ring, split or packed: what a burst must do, and the counters it expects.</summary>
internal interface IQueueModel
{
    /// <summary>A dequeue burst of at most <paramref name="count"/> packets (mbufs of <paramref name="mbufRoom"/> bytes).</summary>
    BurstExpectation Dequeue(GuestImage before, int count, int mbufRoom);

    /// <summary>An enqueue burst of <paramref name="packets"/> (their first mbuf segments <paramref name="firstSegment"/> long).</summary>
    BurstExpectation Enqueue(GuestImage before, IReadOnlyList<byte[]> packets, IReadOnlyList<int> firstSegment);

    /// <summary>Expected value of every per-vring counter (indexes of <see cref="VringStats"/>).</summary>
    ulong[] Counters { get; }
}

/// <summary>
/// What both ring models keep alike: the expected counters, how a drop and a good packet are counted (coverage
/// under the ring's name), and what one consumed TX chain yields.
/// </summary>
internal abstract class QueueModel : IQueueModel
{
    private readonly string _ring;
    /// <summary>Ring size, descriptor table (ring) address and net header size.</summary>
    protected readonly uint QueueSize;
    protected readonly ulong DescTable;
    protected readonly int HeaderSize;
    /// <summary>MRG_RXBUF and the TX offloads (CSUM, TSO) negotiated.</summary>
    protected readonly bool MrgRxbuf, TxOffloads;

    protected QueueModel(string ring, uint size, ulong desc, int hdr, SplitFeatures f)
    {
        _ring = ring;
        QueueSize = size;
        DescTable = desc;
        HeaderSize = hdr;
        MrgRxbuf = (f & SplitFeatures.Mergeable) != 0;
        TxOffloads = (f & SplitFeatures.Offloads) != 0;
    }

    /// <summary>Expected value of every per-vring counter (indexes of <see cref="VringStats"/>).</summary>
    public ulong[] Counters { get; } = new ulong[VringStats.Count];

    public abstract BurstExpectation Dequeue(GuestImage before, int count, int mbufRoom);

    public abstract BurstExpectation Enqueue(GuestImage before, IReadOnlyList<byte[]> packets, IReadOnlyList<int> firstSegment);

    protected void Drop(DropReason r)
    {
        Counters[VringStats.FirstDrop + (int)r - 1]++;
        Coverage.Hit($"{_ring}.drop.{r}");
    }

    protected void CountPacket(ReadOnlySpan<byte> firstSegment, ulong len) => PacketRules.CountPacket(Counters, _ring, firstSegment, len);

    /// <summary>An RX chain (<paramref name="chain"/> in the trace) holds a header but not the packet: the burst ends.</summary>
    protected bool RxTooSmall(BurstExpectation e, string chain, ulong total, int pktLen)
    {
        e.Trace.Add($"{chain}: {total} bytes, too small for a {pktLen}-byte packet: burst ends");
        Coverage.Hit($"{_ring}.rx-buffer-too-small");
        return false;
    }

    /// <summary>A chain (<paramref name="chain"/> in the trace) is dropped and counted for <paramref name="r"/>.</summary>
    protected void Dropped(BurstExpectation e, string chain, DropReason r)
    {
        Drop(r);
        e.Trace.Add($"{chain}: dropped, {r}");
    }

    /// <summary>
    /// One consumed TX chain (<paramref name="chain"/> names it in the trace): dropped and counted for
    /// <paramref name="r"/>, or its packet expected and counted (its first mbuf holding <paramref name="mbufRoom"/>
    /// bytes at most). True for a packet.
    /// </summary>
    protected bool TxChain(BurstExpectation e, string chain, DropReason r, byte[]? pkt, int mbufRoom)
    {
        if (r != DropReason.None)
        {
            Dropped(e, chain, r);
            return false;
        }
        e.Trace.Add($"{chain}: packet of {pkt!.Length} bytes");
        e.Packets.Add(pkt);
        CountPacket(pkt.AsSpan(0, Math.Min(pkt.Length, mbufRoom)), (ulong)pkt.Length);
        return true;
    }
}

/// <summary>
/// A split or packed ring property: every case runs its steps on a fresh <see cref="RingRig"/> through the ring
/// type's <see cref="RingRun{TStep, TModel}"/>, then probes that the device still works. The pool must be empty before.
/// </summary>
public abstract class RingProperty<TCase, TStep> : FuzzProperty<TCase> where TCase : IFuzzCase where TStep : IRingStep
{
    private readonly Func<TCase, TStep[]> _steps;
    private readonly Func<TCase, RingRig> _rig;
    private readonly Func<TCase, RingRig, Mempool, IRingRun<TStep>> _start;

    /// <param name="name">The property's name.</param>
    /// <param name="cases">Its generator and shrinker.</param>
    /// <param name="steps">A case's steps.</param>
    /// <param name="rig">The rig for a case (split or packed rings, the case's memory and start position).</param>
    /// <param name="start">The run of a case on its rig: the ring type's guest drivers and models.</param>
    private protected RingProperty(string name, Arbitrary<TCase> cases, Func<TCase, TStep[]> steps, Func<TCase, RingRig> rig,
        Func<TCase, RingRig, Mempool, IRingRun<TStep>> start)
    {
        Name = name;
        Cases = cases;
        _steps = steps;
        _rig = rig;
        _start = start;
    }

    public override string Name { get; }

    public override Arbitrary<TCase> Cases { get; }

    protected override Verdict Run(TCase c)
    {
        Mempool pool = FuzzPools.Shared;
        Expect.Equal(0u, pool.InUse, "mbufs in use before the case");
        using RingRig rig = _rig(c);
        IRingRun<TStep> run = _start(c, rig, pool);
        TStep[] steps = _steps(c);
        for (int i = 0; i < steps.Length; i++) run.Step(steps[i], i);
        run.Probe(steps.Length);
        return Verdict.Ok;
    }
}

/// <summary>A case in progress as the property drives it.</summary>
internal interface IRingRun<TStep>
{
    BurstExpectation Step(TStep s, int index);
    void Probe(int index);
}

/// <summary>
/// One split or packed case in progress, step by step: the guest posts (the ring type's guest driver), the model
/// says what the burst must do, the device runs it (<see cref="BurstIo"/>), and then the pool, the whole guest memory
/// and every per-vring counter must equal the model's; the ring type adds its own index checks and reaping.
/// </summary>
internal abstract class RingRun<TStep, TModel> : IRingRun<TStep> where TStep : IRingStep where TModel : IQueueModel
{
    protected readonly RingRig Rig;
    protected readonly Mempool Pool;
    protected readonly GuestImage Image;
    /// <summary>Where the guest drivers of both rings place buffers and indirect tables.</summary>
    protected readonly Arena Buffers, Tables;
    /// <summary>The models of the TX and RX rings (the ring type's constructor makes them).</summary>
    protected TModel TxModel { get; init; } = default!;
    protected TModel RxModel { get; init; } = default!;

    protected RingRun(RingRig rig, Mempool pool)
    {
        Rig = rig;
        Pool = pool;
        Image = new GuestImage(rig.Memory);
        SplitLayout l = rig.Layout;
        Buffers = new Arena(l.ArenaSegments());
        Tables = new Arena(new[] { (l.RegionStart(0) + SplitLayout.TableAreaStart, l.RegionStart(0) + SplitLayout.SystemArea) });
    }

    /// <summary>After the last step: the device must still carry a valid chain on every ring the guest left usable.</summary>
    public abstract void Probe(int index);

    /// <summary>The guest posts what the step says on its ring.</summary>
    protected abstract void Post(TStep s, int index);

    /// <summary>The ring type's position checks after a burst (indexes, wrap counters, broken flag).</summary>
    protected abstract void CheckPosition(Vring vq, bool tx, string where);

    /// <summary>After the checks: the guest takes back what the device consumed.</summary>
    protected abstract void Reap(bool tx);

    public BurstExpectation Step(TStep s, int index) => s.Tx ? TxStep(s, index) : RxStep(s, index);

    private BurstExpectation TxStep(TStep s, int index)
    {
        Post(s, index);
        Image.Refresh();
        BurstExpectation e = TxModel.Dequeue(Image, s.Burst, FuzzPools.MbufRoom);
        string where = $"step {index} (TX burst of {s.Burst})";
        BurstIo.Dequeue(Rig.Device, Pool, s.Burst, e, where, () => Trace(e));
        AfterBurst(e, tx: true, where);
        Reap(tx: true);
        return e;
    }

    private BurstExpectation RxStep(TStep s, int index)
    {
        Post(s, index);
        (BurstExpectation e, ushort n) = BurstIo.Enqueue(Rig.Device, Pool, s.Packets, index, (packets, firstSeg) =>
        {
            Image.Refresh();
            return RxModel.Enqueue(Image, packets, firstSeg);
        });
        string where = $"step {index} (RX burst of {s.Packets.Length} packets)";
        Expect.Equal(e.Returned, (int)n, $"{where}: packets enqueued [{Trace(e)}]");
        AfterBurst(e, tx: false, where);
        Reap(tx: false);
        return e;
    }

    /// <summary>The checks every burst ends with.</summary>
    private void AfterBurst(BurstExpectation e, bool tx, string where)
    {
        Vring vq = tx ? Rig.Tx : Rig.Rx;
        Expect.Equal(0u, Pool.InUse, $"{where}: mbufs still in use after the burst's packets were freed");
        string? diff = e.Image.FirstDifference(Rig.Memory, e.Contested, gpa => Rig.Layout.Describe(gpa, Rig.TxRing.DescGpa, Rig.RxRing.DescGpa));
        Expect.True(diff == null, $"{where}: guest memory after the burst: {diff} [{Trace(e)}]");
        CheckPosition(vq, tx, where);
        ulong[] model = (tx ? TxModel : RxModel).Counters;
        Span<ulong> counters = stackalloc ulong[VringStats.Count];
        vq.Stats.CopyTo(counters);
        for (int i = 0; i < VringStats.Count; i++)
            Expect.True(counters[i] == model[i],
                $"{where}: counter {VringStatNames.All[i]} is {counters[i]}, expected {model[i]} [{Trace(e)}]");
    }

    protected static string Trace(BurstExpectation e) =>
        e.Trace.Count == 0 ? "model: nothing to do" : "model: " + string.Join("; ", e.Trace.Take(12)) + (e.Trace.Count > 12 ? "; ..." : "");
}
