using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;
using HotPath.Tests.Infrastructure;
using static HotPath.Tests.Datapath.DescFlags;

namespace HotPath.Tests.Datapath;

/// <summary>
/// SECURITY.md cases 16 and 17 under concurrency on packed rings: another thread rewrites descriptors while the
/// backend reads them. Every field is read once (flags with acquire first), validated, and the local is used, so
/// whatever the interleaving: no crash, no access outside memory, nothing written outside what was marked writable,
/// and each consumed chain is either a packet or a counted drop.
/// </summary>
[Collection(SerialCollection.Name)]
public unsafe class PackedToctouTests
{
    private static readonly uint[] Lens = { 0u, 5u, 12u, 64u, 100u, 1500u, 2048u, 0xFFFF_FFFFu };
    private static readonly ushort[] TableFlags = { 0, Next, Write, Indirect, (ushort)(Next | Indirect), (ushort)(Next | Write) };

    private static ulong[] HostileAddresses(PackedHostile h, PackedRingDriver d, ushort a, ushort b, ulong table)
    {
        var r0 = h.Lb.Memory.Regions[0];
        return new[] { d.Buffers.Gpa(a), d.Buffers.Gpa(b), table, r0.GuestPhysAddr + r0.Size - 64, 0x10UL, ulong.MaxValue - 5 };
    }

    /// <summary>
    /// Rewrites the address or length of ring descriptors (ownership, NEXT and id stay as the driver wrote them, so
    /// every round is one chain of a known size) and any field of the indirect table.
    /// </summary>
    private static GuestRewriter FieldFlipper(PackedRingDriver d, VringPackedDesc* table, ulong[] addrs)
    {
        VringPackedDesc* ring = d.RawDescriptors;
        uint size = d.Size;
        return new GuestRewriter(r =>
        {
            int which = r.Next((int)size + 2);
            VringPackedDesc* x = which < size ? ring + which : table + (which - size);
            switch (r.Next(which < size ? 2 : 3))
            {
                case 0: Volatile.Write(ref x->Addr, addrs[r.Next(addrs.Length)]); break;
                case 1: Volatile.Write(ref x->Len, Lens[r.Next(Lens.Length)]); break;
                default: Volatile.Write(ref x->Flags, TableFlags[r.Next(TableFlags.Length)]); break;
            }
        }, seed: 4321, name: "packed-toctou-flipper");
    }

    [Fact]
    public void Case16_descriptors_rewritten_during_dequeue_give_packets_or_counted_drops()
    {
        using var h = new PackedHostile(Loopback.With(VirtioFeatures.RingIndirectDesc), ringSize: 8);
        PackedRingDriver tx = h.Tx;
        ushort a = tx.RawTakeBuffer(), b = tx.RawTakeBuffer();
        ulong table = tx.RawWriteIndirect(a, 0, h.Buf(tx, a), 100, 0);
        var indirect = (VringPackedDesc*)h.Lb.Memory.Host(table);
        ulong[] addrs = HostileAddresses(h, tx, a, b, table);

        long packets = 0;
        int rounds;
        var mbufs = new nint[8];
        using (var flip = FieldFlipper(tx, indirect, addrs))
        {
            rounds = RaceRounds.Run(20000, () => packets > 0 && h.TxRing.Stats.TotalDrops > 0, i =>
            {
                if (i % 2 == 0) tx.RawPost(a, new RawDesc(h.Buf(tx, a), 100, Next), new RawDesc(h.Buf(tx, b), 100));
                else
                {
                    tx.RawWriteIndirect(a, 0, h.Buf(tx, a), 100, 0);
                    tx.RawWriteIndirect(a, 1, h.Buf(tx, b), 100, 0);
                    tx.RawPost(a, new RawDesc(table, 32, Indirect));
                }
                tx.Publish();
                ushort n = h.Lb.Device.DequeueBurst(1, h.Pool, mbufs);
                for (int k = 0; k < n; k++)
                {
                    var m = (Mbuf*)mbufs[k];
                    Assert.True(m->PktLen > 0 && m->PktLen <= DatapathLimits.MaxPacketBytes);
                    MbufOps.Free(m);
                }
                packets += n;
                Assert.Equal(1, tx.ReapTx());   // exactly one chain, of the size the driver posted
            });
            Assert.True(flip.Writes > 0);
        }
        ulong drops = h.TxRing.Stats.TotalDrops;
        Assert.Equal(rounds, packets + (long)drops);
        Assert.True(drops > 0, $"the flipper never produced a bad chain ({packets} packets in {rounds} rounds)");
        Assert.True(packets > 0, $"no chain was ever valid ({drops} drops)");
        Assert.Equal(0u, h.Pool.InUse);
        h.PostGoodTx(99);
        tx.Publish();
        Assert.True(Payload.Matches(Assert.Single(h.Dequeue()), 99));
    }

    [Fact]
    public void Case16_descriptors_rewritten_during_enqueue_never_get_writes_outside_guest_buffers()
    {
        using var h = new PackedHostile(Loopback.With(VirtioFeatures.RingIndirectDesc, VirtioFeatures.NetMrgRxbuf), ringSize: 8);
        PackedRingDriver rx = h.Rx;
        ushort a = rx.RawTakeBuffer(), b = rx.RawTakeBuffer();
        ulong table = rx.RawWriteIndirect(a, 0, h.Buf(rx, a), 100, Write);
        var indirect = (VringPackedDesc*)h.Lb.Memory.Host(table);
        ulong[] addrs = HostileAddresses(h, rx, a, b, table);

        long delivered = 0, consumed = 0;
        using (var flip = FieldFlipper(rx, indirect, addrs))
        {
            RaceRounds.Run(20000, () => delivered > 0 && h.RxRing.Stats.TotalDrops > 0, i =>
            {
                // A chain the device left in place (too small for the packet) stays posted; post again once used.
                if (rx.InFlight == 0)
                {
                    if (i % 2 == 0) rx.RawPost(a, new RawDesc(h.Buf(rx, a), 100, (ushort)(Write | Next)), new RawDesc(h.Buf(rx, b), 100, Write));
                    else
                    {
                        rx.RawWriteIndirect(a, 0, h.Buf(rx, a), 100, Write);
                        rx.RawWriteIndirect(a, 1, h.Buf(rx, b), 100, Write);
                        rx.RawPost(a, new RawDesc(table, 32, Indirect));
                    }
                    rx.Publish();
                }
                delivered += h.Enqueue((ulong)i, size: 150);
                consumed += rx.ReapTx();
            });
            Assert.True(flip.Writes > 0);
        }
        // Every used entry is either the packet (length > 0) or a dropped chain: count matches the drop counter.
        Assert.Equal(consumed, delivered + (long)h.RxRing.Stats.TotalDrops);
        Assert.True(h.RxRing.Stats.TotalDrops > 0, $"the flipper never produced a bad chain ({delivered} delivered, {consumed} used)");
        Assert.True(delivered > 0, $"no chain was ever valid ({h.RxRing.Stats.TotalDrops} drops)");
        Assert.True(h.Lb.GuardsIntact(), "a byte outside the guest's buffers changed");
    }

    /// <summary>
    /// Case 17 at full hostility: a thread writes random flags (any AVAIL/USED combination, NEXT, WRITE, INDIRECT),
    /// lengths, ids and addresses into random ring slots while the other keeps making the whole ring available for
    /// the device's lap and runs bursts both ways. Nothing can be counted as the driver meant it, but the backend must
    /// not crash, leak an mbuf, write outside guest memory's writable buffers, or stop working once the ring is
    /// restarted.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Case17_flags_storm_on_a_live_ring_leaves_the_backend_intact(bool rxSide)
    {
        using var h = new PackedHostile(Loopback.With(VirtioFeatures.RingIndirectDesc, VirtioFeatures.NetMrgRxbuf), ringSize: 16);
        PackedRingDriver d = rxSide ? h.Rx : h.Tx;
        HotPath.Engine.Vrings.Vring ring = rxSide ? h.RxRing : h.TxRing;
        VringPackedDesc* slots = d.RawDescriptors;
        ushort id = d.RawTakeBuffer();
        ulong table = d.RawWriteIndirect(id, 0, h.Buf(d, id), 64, rxSide ? Write : (ushort)0);
        ulong[] addrs = { h.Buf(d, id), table, 0x10UL, ulong.MaxValue - 5, h.Lb.Memory.Regions[0].GuestPhysAddr + h.Lb.Memory.Regions[0].Size - 64 };
        ushort[] flags = { 0, 0x80, 0x8000, 0x8080, 0x81, 0x8001, 0x82, 0x8002, 0x84, 0x8004, 0x83, 0x8083 };
        var mbufs = new nint[32];
        long packets = 0;
        using (var flip = new GuestRewriter(r =>
        {
            VringPackedDesc* x = slots + r.Next(16);
            switch (r.Next(4))
            {
                case 0: Volatile.Write(ref x->Flags, flags[r.Next(flags.Length)]); break;
                case 1: Volatile.Write(ref x->Len, Lens[r.Next(Lens.Length)]); break;
                case 2: Volatile.Write(ref x->Id, (ushort)r.Next(0x10000)); break;
                default: Volatile.Write(ref x->Addr, addrs[r.Next(addrs.Length)]); break;
            }
        }, seed: 4321, name: "packed-toctou-flipper"))
        {
            for (int round = 0; round < 20000; round++)
            {
                // Make every slot available for the lap it is in as the device sees the ring now.
                uint at = ring.LastAvailIdx;
                bool wrap = ring.AvailWrapCounter;
                for (uint k = 0; k < 16; k++)
                {
                    uint s = (at + k) % 16;
                    bool w = at + k < 16 ? wrap : !wrap;
                    d.RawWriteDesc(s, h.Buf(d, id), 64 + (uint)h.Hdr, id, (ushort)((rxSide ? Write : 0) | PackedRingLayout.AvailPattern(w)));
                }
                if (rxSide) packets += h.Enqueue((ulong)round, size: 40);
                else
                {
                    ushort n = h.Lb.Device.DequeueBurst(1, h.Pool, mbufs);
                    fixed (nint* p = mbufs) MbufOps.FreeBulk((Mbuf**)p, n);
                    packets += n;
                }
            }
            Assert.True(flip.Writes > 0);
        }
        Assert.True(packets > 0, "no chain was ever valid");
        Assert.Equal(0u, h.Pool.InUse);
        Assert.True(h.Lb.GuardsIntact(), "a byte outside the guest's buffers changed");

        // Restart the ring from a clean state (GET/SET_VRING_BASE with a cleared ring): it works again.
        uint base0 = h.Lb.Attach.StopRing(rxSide ? 0 : 1);
        new Span<byte>(slots, 16 * 16).Clear();
        d.RawRelease(id);
        d.RawRestart(base0 & 0x7FFF, (base0 & 0x8000) != 0);
        d.Areas.BaseIndex = base0;
        h.Lb.Attach.AttachDriver(rxSide ? 0 : 1, d, interrupts: false);
        ulong dropsBefore = ring.Stats.TotalDrops;
        if (rxSide)
        {
            Assert.True(d.PostRx(2048));
            d.Publish();
            Assert.Equal(1, h.Enqueue(77, size: 300));
            var buf = new byte[4096];
            Assert.True(d.TryReceive(buf, out RxInfo info));
            Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), 77));
        }
        else
        {
            h.PostGoodTx(77);
            d.Publish();
            Assert.True(Payload.Matches(Assert.Single(h.Dequeue()), 77));
        }
        Assert.Equal(dropsBefore, ring.Stats.TotalDrops);
    }
}
