using FsCheck;
using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;
using HotPath.Fuzz.Core;
using HotPath.Fuzz.Memory;

namespace HotPath.Fuzz.Split;

/// <summary>
/// Split rings against the reference model, step by step: after every burst the packets the device returned, the
/// whole guest memory (byte for byte: nothing written outside the used ring and the writable buffers it filled, and
/// those hold exactly header and packet), the used ring, the ring indexes, the broken flag and every per-vring
/// counter equal the model's; no exception escapes; every mbuf goes back to the pool. At the end a valid chain still
/// goes through on every ring the guest did not break.
/// </summary>
public sealed class SplitRingProperty : FuzzProperty<SplitCase>
{
    public override string Name => "split";

    public override Arbitrary<SplitCase> Cases => SplitGen.Cases;

    protected override Verdict Run(SplitCase c)
    {
        Mempool pool = FuzzPools.Shared;
        Expect.Equal(0u, pool.InUse, "mbufs in use before the case");
        using var rig = RingRig.For(c);
        var run = new SplitRun(c, rig, pool);
        for (int i = 0; i < c.Steps.Length; i++) run.Step(c.Steps[i], i);
        run.Probe(c.Steps.Length);
        return Verdict.Ok;
    }
}

/// <summary>One split case in progress: the guest side of both rings, the models, and the step checks.</summary>
internal sealed unsafe class SplitRun
{
    private readonly SplitCase _case;
    private readonly RingRig _rig;
    private readonly Mempool _pool;
    private readonly SplitGuestRing _txGuest, _rxGuest;
    private readonly SplitQueueModel _txModel, _rxModel;
    private long _txConsumed, _rxConsumed;
    private long _txWritten, _rxWritten;
    private readonly GuestImage _image;

    public SplitRun(SplitCase c, RingRig rig, Mempool pool)
    {
        _case = c;
        _rig = rig;
        _pool = pool;
        SplitLayout l = rig.Layout;
        _image = new GuestImage(rig.Memory);
        var buffers = new Arena(l.ArenaSegments());
        var tables = new Arena(new[] { (l.RegionStart(0) + SplitLayout.TableAreaStart, l.RegionStart(0) + SplitLayout.SystemArea) });
        _txGuest = new SplitGuestRing(rig.Memory, l, buffers, tables, rig.TxRing, tx: true, rig.HeaderSize, c.StartIndex);
        _rxGuest = new SplitGuestRing(rig.Memory, l, buffers, tables, rig.RxRing, tx: false, rig.HeaderSize, c.StartIndex);
        _txModel = new SplitQueueModel(c.RingSize, c.StartIndex, rig.TxRing.DescGpa, rig.TxRing.DriverAreaGpa, rig.TxRing.DeviceAreaGpa, rig.HeaderSize, c.Features);
        _rxModel = new SplitQueueModel(c.RingSize, c.StartIndex, rig.RxRing.DescGpa, rig.RxRing.DriverAreaGpa, rig.RxRing.DeviceAreaGpa, rig.HeaderSize, c.Features);
    }

    public BurstExpectation Step(Step s, int index) => s.Tx ? TxStep(s, index) : RxStep(s, index);

    private BurstExpectation TxStep(Step s, int index)
    {
        _txGuest.Post(s.Chains, s.AvailExtra, index);
        _image.Refresh();
        BurstExpectation e = _txModel.Dequeue(_image, s.Burst, FuzzPools.MbufRoom);
        string where = $"step {index} (TX burst of {s.Burst})";
        BurstIo.Dequeue(_rig.Device, _pool, s.Burst, e, where, () => Trace(e));
        AfterBurst(e, _rig.Tx, _txModel, where);
        _txConsumed += (ushort)(_txModel.LastAvail - (ushort)(_case.StartIndex + _txConsumed));
        _txWritten = Written(_rig.TxRing.DriverAreaGpa);
        _txGuest.Reap(_txConsumed);
        return e;
    }

    private BurstExpectation RxStep(Step s, int index)
    {
        _rxGuest.Post(s.Chains, s.AvailExtra, index);
        (BurstExpectation e, ushort n) = BurstIo.Enqueue(_rig.Device, _pool, s.Packets, index, (packets, firstSeg) =>
        {
            _image.Refresh();
            return _rxModel.Enqueue(_image, packets, firstSeg);
        });
        string where = $"step {index} (RX burst of {s.Packets.Length} packets)";
        Expect.Equal(e.Returned, (int)n, $"{where}: packets enqueued [{Trace(e)}]");
        AfterBurst(e, _rig.Rx, _rxModel, where);
        _rxConsumed += (ushort)(_rxModel.LastAvail - (ushort)(_case.StartIndex + _rxConsumed));
        _rxWritten = Written(_rig.RxRing.DriverAreaGpa);
        _rxGuest.Reap(_rxConsumed);
        return e;
    }

    /// <summary>Free-running count of avail entries the guest published (avail.idx minus the start index).</summary>
    private long Written(ulong availGpa) => (ushort)(GuestWrites.ReadU16(_rig.Memory, availGpa + 2) - _case.StartIndex);

    /// <summary>The checks every burst ends with.</summary>
    private void AfterBurst(BurstExpectation e, Vring vq, SplitQueueModel model, string where)
    {
        Expect.Equal(0u, _pool.InUse, $"{where}: mbufs still in use after the burst's packets were freed");
        string? diff = e.Image.FirstDifference(_rig.Memory, e.Contested, Describe);
        Expect.True(diff == null, $"{where}: guest memory after the burst: {diff} [{Trace(e)}]");
        Expect.Equal(model.LastAvail, vq.LastAvailIdx, $"{where}: last avail index");
        Expect.Equal(model.LastUsed, vq.LastUsedIdx, $"{where}: last used index");
        Expect.Equal(model.Broken, vq.IsBroken, $"{where}: ring broken");
        Span<ulong> counters = stackalloc ulong[VringStats.Count];
        vq.Stats.CopyTo(counters);
        for (int i = 0; i < VringStats.Count; i++)
            Expect.True(counters[i] == model.Counters[i],
                $"{where}: counter {Engine.Stats.VringStatNames.All[i]} is {counters[i]}, expected {model.Counters[i]} [{Trace(e)}]");
    }

    private string Describe(ulong gpa) => _rig.Layout.Describe(gpa, _rig.TxRing.DescGpa, _rig.RxRing.DescGpa);

    private static string Trace(BurstExpectation e) => e.Trace.Count == 0 ? "model: nothing to do" : "model: " + string.Join("; ", e.Trace.Take(12)) + (e.Trace.Count > 12 ? "; ..." : "");

    /// <summary>
    /// The device keeps working: on each ring the guest did not break, everything still pending is drained, then one
    /// valid chain must go through (RX: unless a valid buffer too small for the drain packets still blocks the ring).
    /// </summary>
    public void Probe(int index)
    {
        int hdr = _rig.HeaderSize;
        var valid = new ChainSpec(new[] { new DescSpec(new BufSpec(BufKind.Data, (uint)(hdr + 64))) });
        if (!_txModel.Broken)
        {
            Step(new Step(true, Array.Empty<ChainSpec>(), (int)_case.RingSize, Array.Empty<PacketSpec>()), index);
            int misplaced = _txGuest.Misplaced;
            BurstExpectation e = Step(new Step(true, new[] { valid }, 1, Array.Empty<PacketSpec>()), index + 1);
            // Buffers the RX ring still holds may fill the arena: then the probe's buffer could not be placed.
            if (!_txModel.Broken && _txGuest.Misplaced == misplaced) Expect.True(e.Returned == 1, $"TX probe: a valid chain after the case was not delivered [{Trace(e)}]");
        }
        if (!_rxModel.Broken)
        {
            var drain = Enumerable.Repeat(new PacketSpec(1), (int)_case.RingSize).ToArray();
            Step(new Step(false, Array.Empty<ChainSpec>(), 0, drain), index + 2);
            bool drained = (ushort)_rxWritten == (ushort)_rxConsumed;
            var big = new ChainSpec(new[] { new DescSpec(new BufSpec(BufKind.Data, 4096)) });
            int misplaced = _rxGuest.Misplaced;
            BurstExpectation e = Step(new Step(false, new[] { big }, 0, new[] { new PacketSpec(64) }), index + 3);
            if (drained && !_rxModel.Broken && _rxGuest.Misplaced == misplaced)
                Expect.True(e.Returned == 1, $"RX probe: a valid buffer after the case did not get the packet [{Trace(e)}]");
        }
    }
}
