using FsCheck;
using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;
using HotPath.Fuzz.Core;
using HotPath.Fuzz.Memory;
using HotPath.Fuzz.Split;

namespace HotPath.Fuzz.Packed;

/// <summary>
/// Packed rings against the reference model, step by step: after every burst the packets the device returned, the
/// whole guest memory (byte for byte: nothing written outside the used descriptors, the device event area and the
/// writable buffers it filled, and those hold exactly header and packet), the ring cursors and wrap counters and every
/// per-vring counter (drops by reason, batched descriptors) equal the model's; no exception escapes; every mbuf goes
/// back to the pool. At the end, after the guest's wrong flags are repaired, a valid chain still goes through on both
/// rings.
/// </summary>
public sealed class PackedRingProperty : FuzzProperty<PackedCase>
{
    public override string Name => "packed";

    public override Arbitrary<PackedCase> Cases => PackedGen.Cases;

    protected override Verdict Run(PackedCase c)
    {
        Mempool pool = FuzzPools.Shared;
        Expect.Equal(0u, pool.InUse, "mbufs in use before the case");
        using var rig = RingRig.For(c);
        var run = new PackedRun(c, rig, pool);
        for (int i = 0; i < c.Steps.Length; i++) run.Step(c.Steps[i], i);
        run.Probe(c.Steps.Length);
        return Verdict.Ok;
    }
}

/// <summary>One packed case in progress: the guest side of both rings, the models, and the step checks.</summary>
internal sealed unsafe class PackedRun
{
    private readonly PackedCase _case;
    private readonly RingRig _rig;
    private readonly Mempool _pool;
    private readonly PackedGuestRing _txGuest, _rxGuest;
    private readonly PackedQueueModel _txModel, _rxModel;
    private readonly GuestImage _image;

    public PackedRun(PackedCase c, RingRig rig, Mempool pool)
    {
        _case = c;
        _rig = rig;
        _pool = pool;
        SplitLayout l = rig.Layout;
        _image = new GuestImage(rig.Memory);
        var buffers = new Arena(l.ArenaSegments());
        var tables = new Arena(new[] { (l.RegionStart(0) + SplitLayout.TableAreaStart, l.RegionStart(0) + SplitLayout.SystemArea) });
        uint start = c.StartIndex % c.RingSize;
        _txGuest = new PackedGuestRing(rig.Memory, l, buffers, tables, rig.TxRing, tx: true, rig.HeaderSize, start, c.StartWrap);
        _rxGuest = new PackedGuestRing(rig.Memory, l, buffers, tables, rig.RxRing, tx: false, rig.HeaderSize, start, c.StartWrap);
        _txModel = new PackedQueueModel(c.RingSize, start, c.StartWrap, rig.TxRing.DescGpa, rig.TxRing.DeviceAreaGpa, rig.HeaderSize, c.Features);
        _rxModel = new PackedQueueModel(c.RingSize, start, c.StartWrap, rig.RxRing.DescGpa, rig.RxRing.DeviceAreaGpa, rig.HeaderSize, c.Features);
    }

    public BurstExpectation Step(PackedStep s, int index) => s.Tx ? TxStep(s, index) : RxStep(s, index);

    private BurstExpectation TxStep(PackedStep s, int index)
    {
        _txGuest.Post(s.Chains, _txModel.Consumed, index);
        _image.Refresh();
        BurstExpectation e = _txModel.Dequeue(_image, s.Burst, FuzzPools.MbufRoom);
        string where = $"step {index} (TX burst of {s.Burst})";
        BurstIo.Dequeue(_rig.Device, _pool, s.Burst, e, where, () => Trace(e));
        AfterBurst(e, _rig.Tx, _txModel, where);
        _txGuest.Reap(_txModel.Consumed);
        return e;
    }

    private BurstExpectation RxStep(PackedStep s, int index)
    {
        _rxGuest.Post(s.Chains, _rxModel.Consumed, index);
        (BurstExpectation e, ushort n) = BurstIo.Enqueue(_rig.Device, _pool, s.Packets, index, (packets, firstSeg) =>
        {
            _image.Refresh();
            return _rxModel.Enqueue(_image, packets, firstSeg);
        });
        string where = $"step {index} (RX burst of {s.Packets.Length} packets)";
        Expect.Equal(e.Returned, (int)n, $"{where}: packets enqueued [{Trace(e)}]");
        AfterBurst(e, _rig.Rx, _rxModel, where);
        _rxGuest.Reap(_rxModel.Consumed);
        return e;
    }

    private void AfterBurst(BurstExpectation e, Vring vq, PackedQueueModel model, string where)
    {
        Expect.Equal(0u, _pool.InUse, $"{where}: mbufs still in use after the burst's packets were freed");
        string? diff = e.Image.FirstDifference(_rig.Memory, e.Contested, gpa => _rig.Layout.Describe(gpa, _rig.TxRing.DescGpa, _rig.RxRing.DescGpa));
        Expect.True(diff == null, $"{where}: guest memory after the burst: {diff} [{Trace(e)}]");
        Expect.Equal((ushort)model.Index, vq.LastAvailIdx, $"{where}: avail index");
        Expect.Equal(model.Wrap, vq.AvailWrapCounter, $"{where}: avail wrap counter");
        Expect.Equal((ushort)model.Index, vq.LastUsedIdx, $"{where}: used index");
        Expect.Equal(model.Wrap, vq.UsedWrapCounter, $"{where}: used wrap counter");
        Expect.True(!vq.IsBroken, $"{where}: a packed ring never breaks");
        Span<ulong> counters = stackalloc ulong[VringStats.Count];
        vq.Stats.CopyTo(counters);
        for (int i = 0; i < VringStats.Count; i++)
            Expect.True(counters[i] == model.Counters[i],
                $"{where}: counter {VringStatNames.All[i]} is {counters[i]}, expected {model.Counters[i]} [{Trace(e)}]");
    }

    private static string Trace(BurstExpectation e) => e.Trace.Count == 0 ? "model: nothing to do" : "model: " + string.Join("; ", e.Trace.Take(12)) + (e.Trace.Count > 12 ? "; ..." : "");

    /// <summary>
    /// The device keeps working: the guest's wrong flags are repaired and everything pending drained, then one valid
    /// chain must go through on each ring (RX: unless a valid buffer too small for the drain packets still holds it).
    /// </summary>
    public void Probe(int index)
    {
        int hdr = _rig.HeaderSize;
        var none = Array.Empty<PackedChainSpec>();
        Step(new PackedStep(true, none, (int)_case.RingSize * 2 + 64, Array.Empty<PacketSpec>()), index);
        Step(new PackedStep(true, none, (int)_case.RingSize * 2 + 64, Array.Empty<PacketSpec>()), index + 1);
        var valid = new PackedChainSpec(new[] { new PackedDescSpec(new BufSpec(BufKind.Data, (uint)(hdr + 64))) });
        int misplaced = _txGuest.Misplaced;
        BurstExpectation e = Step(new PackedStep(true, new[] { valid }, 1, Array.Empty<PacketSpec>()), index + 2);
        // Buffers the RX ring still holds may fill the arena: then the probe's buffer could not be placed.
        Expect.True(e.Returned == 1 || _txGuest.Misplaced != misplaced, $"TX probe: a valid chain after the case was not delivered [{Trace(e)}]");

        var drain = Enumerable.Repeat(new PacketSpec(1), (int)_case.RingSize).ToArray();
        Step(new PackedStep(false, none, 0, drain), index + 3);
        Step(new PackedStep(false, none, 0, drain), index + 4);
        _image.Refresh();
        bool drained = !_rxModel.HeadAvailable(_image);
        var big = new PackedChainSpec(new[] { new PackedDescSpec(new BufSpec(BufKind.Data, 4096)) });
        misplaced = _rxGuest.Misplaced;
        e = Step(new PackedStep(false, new[] { big }, 0, new[] { new PacketSpec(64) }), index + 5);
        if (drained && _rxGuest.Misplaced == misplaced) Expect.True(e.Returned == 1, $"RX probe: a valid buffer after the case did not get the packet [{Trace(e)}]");
    }
}
