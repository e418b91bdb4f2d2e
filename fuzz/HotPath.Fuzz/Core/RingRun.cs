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

/// <summary>
/// A split or packed ring property: every case runs its steps on a fresh <see cref="RingRig"/> through the ring
/// type's <see cref="RingRun{TStep}"/>, then probes that the device still works. The pool must be empty before.
/// </summary>
public abstract class RingProperty<TCase, TStep> : FuzzProperty<TCase> where TCase : IFuzzCase where TStep : IRingStep
{
    /// <summary>The case's steps.</summary>
    protected abstract TStep[] Steps(TCase c);

    /// <summary>The rig for the case (split or packed rings, the case's memory and start position).</summary>
    private protected abstract RingRig Rig(TCase c);

    /// <summary>The run of the case on <paramref name="rig"/>: its guest drivers and models.</summary>
    private protected abstract RingRun<TStep> Start(TCase c, RingRig rig, Mempool pool);

    protected override Verdict Run(TCase c)
    {
        Mempool pool = FuzzPools.Shared;
        Expect.Equal(0u, pool.InUse, "mbufs in use before the case");
        using RingRig rig = Rig(c);
        RingRun<TStep> run = Start(c, rig, pool);
        TStep[] steps = Steps(c);
        for (int i = 0; i < steps.Length; i++) run.Step(steps[i], i);
        run.Probe(steps.Length);
        return Verdict.Ok;
    }
}

/// <summary>
/// One split or packed case in progress, step by step: the guest posts (the ring type's guest driver), the model
/// says what the burst must do, the device runs it (<see cref="BurstIo"/>), and then the pool, the whole guest memory
/// and every per-vring counter must equal the model's; the ring type adds its own index checks and reaping.
/// </summary>
internal abstract class RingRun<TStep> where TStep : IRingStep
{
    protected readonly RingRig Rig;
    protected readonly Mempool Pool;
    protected readonly GuestImage Image;
    /// <summary>Where the guest drivers of both rings place buffers and indirect tables.</summary>
    protected readonly Arena Buffers, Tables;

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

    /// <summary>The model's expectation of a dequeue burst of <paramref name="burst"/> (the image is fresh).</summary>
    protected abstract BurstExpectation ExpectDequeue(int burst);

    /// <summary>The model's expectation of enqueuing <paramref name="packets"/> (the image is fresh).</summary>
    protected abstract BurstExpectation ExpectEnqueue(IReadOnlyList<byte[]> packets, IReadOnlyList<int> firstSegment);

    /// <summary>The counters the model of the TX or RX ring expects.</summary>
    protected abstract ulong[] ModelCounters(bool tx);

    /// <summary>The ring type's position checks after a burst (indexes, wrap counters, broken flag).</summary>
    protected abstract void CheckPosition(Vring vq, bool tx, string where);

    /// <summary>After the checks: the guest takes back what the device consumed.</summary>
    protected abstract void Reap(bool tx);

    public BurstExpectation Step(TStep s, int index) => s.Tx ? TxStep(s, index) : RxStep(s, index);

    private BurstExpectation TxStep(TStep s, int index)
    {
        Post(s, index);
        Image.Refresh();
        BurstExpectation e = ExpectDequeue(s.Burst);
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
            return ExpectEnqueue(packets, firstSeg);
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
        ulong[] model = ModelCounters(tx);
        Span<ulong> counters = stackalloc ulong[VringStats.Count];
        vq.Stats.CopyTo(counters);
        for (int i = 0; i < VringStats.Count; i++)
            Expect.True(counters[i] == model[i],
                $"{where}: counter {VringStatNames.All[i]} is {counters[i]}, expected {model[i]} [{Trace(e)}]");
    }

    protected static string Trace(BurstExpectation e) =>
        e.Trace.Count == 0 ? "model: nothing to do" : "model: " + string.Join("; ", e.Trace.Take(12)) + (e.Trace.Count > 12 ? "; ..." : "");
}
