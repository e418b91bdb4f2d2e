using HotPath.Engine.Stats;
using HotPath.Frontend.Rings;
using static HotPath.Tests.Datapath.DescFlags;

namespace HotPath.Tests.Datapath;

/// <summary>
/// SECURITY.md cases 11-14 on split rings: the shared cases (<see cref="DescriptorChainBehaviour{TDriver}"/>) and the
/// ones only next-index chaining allows: loops, next or head outside the table, and next inside indirect tables.
/// </summary>
public unsafe class DescriptorChainTests : DescriptorChainBehaviour<SplitRingDriver>
{
    /// <summary>Writes a raw TX chain by descriptor index, pushes its head, then checks it is dropped next to a good packet.</summary>
    private static void TxIndexedBadThenGood(Hostile h, DropReason reason, Func<Hostile, ushort> writeBadChain)
    {
        ushort bad = writeBadChain(h);
        h.Tx.RawPushAvail(bad);
        h.ExpectTxDrop(reason, bad);
    }

    /// <summary>Writes a two-descriptor loop a → b → a of <paramref name="len"/> bytes each on <paramref name="d"/>;
    /// returns a. <paramref name="secondAtZero"/> puts b at gpa 0.</summary>
    private static ushort Loop(Hostile h, SplitRingDriver d, uint len, ushort flags = Next, bool secondAtZero = false)
    {
        ushort a = d.RawTakeDescriptor(), b = d.RawTakeDescriptor();
        d.RawWriteDesc(a, h.Buf(d, a), len, flags, b);
        d.RawWriteDesc(b, secondAtZero ? 0 : h.Buf(d, b), len, flags, a);
        return a;
    }

    // ---------------------------------------------------------------- case 11

    [Fact]
    public void Case11_tx_descriptor_loop_is_dropped_as_chain_too_long()
    {
        using var h = new Hostile();
        TxIndexedBadThenGood(h, DropReason.ChainTooLong, h => Loop(h, h.Tx, 64));
    }

    [Fact]
    public void Case11_tx_loop_of_zero_length_descriptors_is_dropped()
    {
        using var h = new Hostile();
        TxIndexedBadThenGood(h, DropReason.ChainTooLong, h => Loop(h, h.Tx, 0, secondAtZero: true));
    }

    [Fact]
    public void Case11_tx_self_loop_is_dropped()
    {
        using var h = new Hostile();
        TxIndexedBadThenGood(h, DropReason.ChainTooLong, h =>
        {
            ushort a = h.Tx.RawTakeDescriptor();
            h.Tx.RawWriteDesc(a, h.Buf(h.Tx, a), 32, Next, a);
            return a;
        });
    }

    [Fact]
    public void Case11_tx_next_outside_the_table_is_dropped()
    {
        using var h = new Hostile(ringSize: 16);
        TxIndexedBadThenGood(h, DropReason.DescIndexOutOfRange, h =>
        {
            ushort a = h.Tx.RawTakeDescriptor();
            h.Tx.RawWriteDesc(a, h.Buf(h.Tx, a), 64, Next, 16);
            return a;
        });
    }

    [Fact]
    public void Case11_head_index_outside_the_table_is_dropped()
    {
        using var h = new Hostile(ringSize: 16);
        TxIndexedBadThenGood(h, DropReason.DescIndexOutOfRange, _ => 0xFFFF);
    }

    [Fact]
    public void Case11_rx_descriptor_loop_is_dropped_and_nothing_is_written_outside_buffers()
    {
        using var h = new Hostile();
        ushort a = Loop(h, h.Rx, 8, (ushort)(Write | Next));
        h.Rx.RawPushAvail(a);
        h.ExpectRxDrop(DropReason.ChainTooLong, a);
    }

    // ---------------------------------------------------------------- case 12

    [Fact]
    public void Case12_indirect_together_with_next_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.IndirectWithNext, (h, id) => [IndirectHead(h, id, 16, (ushort)(Indirect | Next))]);
    }

    [Fact]
    public void Case12_indirect_table_loop_is_bounded_by_its_entry_count()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.ChainTooLong, (h, id) => [IndirectHead(h, id, 32, fill: (h, id, _) =>
        {
            h.Tx.RawWriteIndirect(id, 0, h.Buf(h.Tx, id), 12, Next, 1);
            h.Tx.RawWriteIndirect(id, 1, h.Buf(h.Tx, id), 12, Next, 0);
        })]);
    }

    [Fact]
    public void Case12_indirect_next_beyond_the_table_is_dropped()
    {
        using var h = new Hostile();
        TxBadThenGood(h, DropReason.DescIndexOutOfRange, (h, id) => [IndirectHead(h, id, 32, fill: (h, id, _) =>
            h.Tx.RawWriteIndirect(id, 0, h.Buf(h.Tx, id), 12, Next, 2))]);   // table has 2 entries
    }
}
