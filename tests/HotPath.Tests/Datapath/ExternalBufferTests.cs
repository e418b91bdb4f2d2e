using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// LINEARBUF and EXTBUF on dequeue (DPDK's RTE_VHOST_USER_LINEARBUF_SUPPORT / EXTBUF_SUPPORT): a packet larger than
/// the pool's data room arrives in one segment on an external buffer, which goes back when the last holder frees the
/// mbuf; the mbuf returns to its pool with its own data room. LINEARBUF alone drops such a packet, counted.
/// </summary>
public unsafe class ExternalBufferTests
{
    private const int Big = 9000;
    private static readonly TxShape FiveDescriptors = new(DataDescriptors: 5);   // 9000 bytes in 2 KiB guest buffers

    private static void Post<T>(Loopback<T> lb, int len, ulong seq) where T : class, IRingDriver
    {
        IRingDriver tx = lb.Tx[0];
        Assert.True(((RingDriver)tx).PostTx(new byte[((RingDriver)tx).HeaderSize], Payload.Make(len, seq), FiveDescriptors));
        tx.Publish();
    }

    private static void OneBigPacketOnAnExternalBuffer<T>(Loopback<T> lb) where T : class, IRingDriver
    {
        lb.Device.LinearBuffers = true;
        lb.Device.ExternalBuffers = true;
        using Mempool pool = TestPools.Create(64);
        long attached = ExtBuf.Attached, released = ExtBuf.Released;
        var mbufs = new nint[4];
        for (ulong seq = 1; seq <= 3; seq++)
        {
            Post(lb, Big, seq);
            Assert.Equal(1, lb.Device.DequeueBurst(1, pool, mbufs));
            var m = (Mbuf*)mbufs[0];
            Assert.Equal(1, m->NbSegs);
            Assert.Equal((uint)Big, m->PktLen);
            Assert.Equal(Big, (int)m->DataLen);
            Assert.NotEqual(0UL, m->OlFlags & MbufOffload.ExtAttachedMbuf);
            Assert.True(m->ShInfo != null);
            Assert.True(m->BufAddr != (byte*)m + Mbuf.HeaderSize);
            Assert.True(Payload.Matches(new ReadOnlySpan<byte>(m->Data, Big), seq));

            // A second holder: the buffer outlives the first free.
            MbufOps.RefCntUpdate(m, 1);
            MbufOps.Free(m);
            Assert.Equal(released + (long)seq - 1, ExtBuf.Released);
            MbufOps.Free(m);
            Assert.Equal(released + (long)seq, ExtBuf.Released);
            Assert.Equal(1, lb.Tx[0].ReapTx());
        }
        Assert.Equal(attached + 3, ExtBuf.Attached);
        Assert.Equal(0u, pool.InUse);
        Assert.Equal(0UL, lb.TxVring().Stats.TotalDrops);

        // The mbufs are back to their own data room: a small packet lands in the pool's buffer.
        Post(lb, 100, 9);
        Assert.Equal(1, lb.Device.DequeueBurst(1, pool, mbufs));
        var small = (Mbuf*)mbufs[0];
        Assert.Equal(0UL, small->OlFlags & MbufOffload.ExtAttachedMbuf);
        Assert.True(small->BufAddr == (byte*)small + Mbuf.HeaderSize && small->ShInfo == null);
        Assert.True(Payload.Matches(new ReadOnlySpan<byte>(small->Data, 100), 9));
        MbufOps.Free(small);
        Assert.Equal(attached + 3, ExtBuf.Attached);
    }

    [Fact] public void Split_large_packet_arrives_on_an_external_buffer() => OneBigPacketOnAnExternalBuffer(new Loopback());

    [Fact] public void Packed_large_packet_arrives_on_an_external_buffer() => OneBigPacketOnAnExternalBuffer(new PackedLoopback());

    [Fact]
    public void Linearbuf_without_extbuf_drops_a_large_packet_and_counts_it()
    {
        using var lb = new Loopback();
        lb.Device.LinearBuffers = true;
        using Mempool pool = TestPools.Create(64);
        var mbufs = new nint[4];
        Post(lb, Big, 1);
        Assert.Equal(0, lb.Device.DequeueBurst(1, pool, mbufs));
        Assert.Equal(1UL, lb.TxVring().Stats.Drops(DropReason.PacketTooLarge));
        Assert.Equal(0u, pool.InUse);
        Post(lb, 1000, 2);   // the ring goes on
        Assert.Equal(1, lb.Device.DequeueBurst(1, pool, mbufs));
        MbufOps.Free((Mbuf*)mbufs[0]);
    }

    [Fact]
    public void Without_linearbuf_a_large_packet_is_a_chain_of_pool_segments()
    {
        using var lb = new Loopback();
        using Mempool pool = TestPools.Create(64);
        var mbufs = new nint[4];
        Post(lb, Big, 1);
        Assert.Equal(1, lb.Device.DequeueBurst(1, pool, mbufs));
        var m = (Mbuf*)mbufs[0];
        Assert.Equal(5, m->NbSegs);   // 9000 bytes in 2 KiB data rooms
        Assert.Equal(0UL, m->OlFlags & MbufOffload.ExtAttachedMbuf);
        MbufOps.Free(m);
        Assert.Equal(0u, pool.InUse);
    }
}
