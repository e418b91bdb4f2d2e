using HotPath.Engine.Buffers;
using HotPath.Engine.Vrings;
using HotPath.Fuzz.Core;
using HotPath.Fuzz.Split;

namespace HotPath.Fuzz.Packed;

/// <summary>One packed case in progress: the guest side of both rings, the models, and the packed checks.</summary>
internal sealed class PackedRun : RingRun<PackedStep, PackedQueueModel>
{
    private readonly PackedCase _case;
    private readonly PackedGuestRing _txGuest, _rxGuest;

    public PackedRun(PackedCase c, RingRig rig, Mempool pool) : base(rig, pool)
    {
        _case = c;
        uint start = c.StartIndex % c.RingSize;
        _txGuest = new PackedGuestRing(rig.Memory, rig.Layout, Buffers, Tables, rig.TxRing, tx: true, rig.HeaderSize, start, c.StartWrap);
        _rxGuest = new PackedGuestRing(rig.Memory, rig.Layout, Buffers, Tables, rig.RxRing, tx: false, rig.HeaderSize, start, c.StartWrap);
        TxModel = new PackedQueueModel(c.RingSize, start, c.StartWrap, rig.TxRing.DescGpa, rig.TxRing.DeviceAreaGpa, rig.HeaderSize, c.Features);
        RxModel = new PackedQueueModel(c.RingSize, start, c.StartWrap, rig.RxRing.DescGpa, rig.RxRing.DeviceAreaGpa, rig.HeaderSize, c.Features);
    }

    protected override void Post(PackedStep s, int index)
    {
        if (s.Tx) _txGuest.Post(s.Chains, TxModel.Consumed, index);
        else _rxGuest.Post(s.Chains, RxModel.Consumed, index);
    }

    protected override void CheckPosition(Vring vq, bool tx, string where)
    {
        PackedQueueModel model = tx ? TxModel : RxModel;
        Expect.Equal((ushort)model.Index, vq.LastAvailIdx, $"{where}: avail index");
        Expect.Equal(model.Wrap, vq.AvailWrapCounter, $"{where}: avail wrap counter");
        Expect.Equal((ushort)model.Index, vq.LastUsedIdx, $"{where}: used index");
        Expect.Equal(model.Wrap, vq.UsedWrapCounter, $"{where}: used wrap counter");
        Expect.True(!vq.IsBroken, $"{where}: a packed ring never breaks");
    }

    protected override void Reap(bool tx)
    {
        if (tx) _txGuest.Reap(TxModel.Consumed);
        else _rxGuest.Reap(RxModel.Consumed);
    }

    /// <summary>
    /// The device keeps working: the guest's wrong flags are repaired and everything pending drained, then one valid
    /// chain must go through on each ring (RX: unless a valid buffer too small for the drain packets still holds it).
    /// </summary>
    public override void Probe(int index)
    {
        int hdr = Rig.HeaderSize;
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
        Image.Refresh();
        bool drained = !RxModel.HeadAvailable(Image);
        var big = new PackedChainSpec(new[] { new PackedDescSpec(new BufSpec(BufKind.Data, 4096)) });
        misplaced = _rxGuest.Misplaced;
        e = Step(new PackedStep(false, new[] { big }, 0, new[] { new PacketSpec(64) }), index + 5);
        if (drained && _rxGuest.Misplaced == misplaced) Expect.True(e.Returned == 1, $"RX probe: a valid buffer after the case did not get the packet [{Trace(e)}]");
    }
}
