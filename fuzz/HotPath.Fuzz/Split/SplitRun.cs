using HotPath.Engine.Buffers;
using HotPath.Engine.Vrings;
using HotPath.Fuzz.Core;

namespace HotPath.Fuzz.Split;

/// <summary>One split case in progress: the guest side of both rings, the models, and the split checks.</summary>
internal sealed class SplitRun : RingRun<Step, SplitQueueModel>
{
    private readonly SplitCase _case;
    private readonly SplitGuestRing _txGuest, _rxGuest;
    private long _txConsumed, _rxConsumed;
    private long _rxWritten;

    public SplitRun(SplitCase c, RingRig rig, Mempool pool) : base(rig, pool)
    {
        _case = c;
        _txGuest = new SplitGuestRing(rig.Memory, rig.Layout, Buffers, Tables, rig.TxRing, tx: true, rig.HeaderSize, c.StartIndex);
        _rxGuest = new SplitGuestRing(rig.Memory, rig.Layout, Buffers, Tables, rig.RxRing, tx: false, rig.HeaderSize, c.StartIndex);
        TxModel = new SplitQueueModel(c.RingSize, c.StartIndex, rig.TxRing.DescGpa, rig.TxRing.DriverAreaGpa, rig.TxRing.DeviceAreaGpa, rig.HeaderSize, c.Features);
        RxModel = new SplitQueueModel(c.RingSize, c.StartIndex, rig.RxRing.DescGpa, rig.RxRing.DriverAreaGpa, rig.RxRing.DeviceAreaGpa, rig.HeaderSize, c.Features);
    }

    protected override void Post(Step s, int index) => (s.Tx ? _txGuest : _rxGuest).Post(s.Chains, s.AvailExtra, index);

    protected override void CheckPosition(Vring vq, bool tx, string where)
    {
        SplitQueueModel model = tx ? TxModel : RxModel;
        Expect.Equal(model.LastAvail, vq.LastAvailIdx, $"{where}: last avail index");
        Expect.Equal(model.LastUsed, vq.LastUsedIdx, $"{where}: last used index");
        Expect.Equal(model.Broken, vq.IsBroken, $"{where}: ring broken");
    }

    protected override void Reap(bool tx)
    {
        if (tx)
        {
            _txConsumed += (ushort)(TxModel.LastAvail - (ushort)(_case.StartIndex + _txConsumed));
            _txGuest.Reap(_txConsumed);
        }
        else
        {
            _rxConsumed += (ushort)(RxModel.LastAvail - (ushort)(_case.StartIndex + _rxConsumed));
            _rxWritten = Written(Rig.RxRing.DriverAreaGpa);
            _rxGuest.Reap(_rxConsumed);
        }
    }

    /// <summary>Free-running count of avail entries the guest published (avail.idx minus the start index).</summary>
    private long Written(ulong availGpa) => (ushort)(GuestWrites.ReadU16(Rig.Memory, availGpa + 2) - _case.StartIndex);

    /// <summary>
    /// The device keeps working: on each ring the guest did not break, everything still pending is drained, then one
    /// valid chain must go through (RX: unless a valid buffer too small for the drain packets still blocks the ring).
    /// </summary>
    public override void Probe(int index)
    {
        int hdr = Rig.HeaderSize;
        var valid = new ChainSpec(new[] { new DescSpec(new BufSpec(BufKind.Data, (uint)(hdr + 64))) });
        if (!TxModel.Broken)
        {
            Step(new Step(true, Array.Empty<ChainSpec>(), (int)_case.RingSize, Array.Empty<PacketSpec>()), index);
            int misplaced = _txGuest.Misplaced;
            BurstExpectation e = Step(new Step(true, new[] { valid }, 1, Array.Empty<PacketSpec>()), index + 1);
            // Buffers the RX ring still holds may fill the arena: then the probe's buffer could not be placed.
            if (!TxModel.Broken && _txGuest.Misplaced == misplaced) Expect.True(e.Returned == 1, $"TX probe: a valid chain after the case was not delivered [{Trace(e)}]");
        }
        if (!RxModel.Broken)
        {
            var drain = Enumerable.Repeat(new PacketSpec(1), (int)_case.RingSize).ToArray();
            Step(new Step(false, Array.Empty<ChainSpec>(), 0, drain), index + 2);
            bool drained = (ushort)_rxWritten == (ushort)_rxConsumed;
            var big = new ChainSpec(new[] { new DescSpec(new BufSpec(BufKind.Data, 4096)) });
            int misplaced = _rxGuest.Misplaced;
            BurstExpectation e = Step(new Step(false, new[] { big }, 0, new[] { new PacketSpec(64) }), index + 3);
            if (drained && !RxModel.Broken && _rxGuest.Misplaced == misplaced)
                Expect.True(e.Returned == 1, $"RX probe: a valid buffer after the case did not get the packet [{Trace(e)}]");
        }
    }
}
