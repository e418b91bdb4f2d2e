using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// Ring-level behaviour every ring type must show; a concrete class per ring type (<see cref="RingStateTests"/>,
/// <see cref="PackedRingStateTests"/>) runs it and adds its own cases.
/// </summary>
public abstract unsafe class RingStateBehaviour<TDriver> where TDriver : class, IRingDriver
{
    [Fact]
    public void Linear_buffers_drop_packets_larger_than_one_mbuf()
    {
        using var lb = Loopbacks.Create<TDriver>(bufferSize: 4096);
        using Mempool pool = TestPools.Create();
        lb.Device.LinearBuffers = true;
        var hdr = new byte[lb.Tx[0].HeaderSize];
        lb.Tx[0].PostTx(hdr, Payload.Make(3000, 1));
        lb.Tx[0].PostTx(hdr, Payload.Make(2048, 2));   // exactly one mbuf's room
        lb.Tx[0].Publish();
        var mbufs = new nint[4];
        Assert.Equal(1, lb.Device.DequeueBurst(1, pool, mbufs));
        var m = (Mbuf*)mbufs[0];
        Assert.Equal(1, m->NbSegs);
        Assert.True(Payload.Matches(new ReadOnlySpan<byte>(m->Data, m->DataLen), 2));
        MbufOps.Free(m);
        Assert.Equal(1UL, lb.TxVring().Stats.Drops(DropReason.PacketTooLarge));
        Assert.Equal(0u, pool.InUse);
    }
}
