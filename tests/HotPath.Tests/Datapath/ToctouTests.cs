using HotPath.Engine.Virtio;
using HotPath.Tests.Infrastructure;
using static HotPath.Tests.Datapath.DescFlags;

namespace HotPath.Tests.Datapath;

/// <summary>
/// SECURITY.md case 16: another thread rewrites descriptor fields while the backend walks them. Every field is read
/// once, validated, and the local is used, so whatever the interleaving: no crash, no access outside memory, and
/// each consumed chain is either a packet or a counted drop.
/// </summary>
[Collection(SerialCollection.Name)]
public unsafe class ToctouTests
{
    /// <summary>
    /// Rewrites random fields of the victim descriptors (and an indirect table) until disposed: half the time a
    /// descriptor gets its whole valid value back (<paramref name="valid"/>: victims then the two indirect entries),
    /// otherwise one field takes a random, often hostile, value.
    /// </summary>
    private static GuestRewriter Flipper(VringDesc* table, ushort[] victims, VringDesc* indirect, ulong[] addrs, ushort ringSize, VringDesc[] valid)
    {
        uint[] lens = { 0u, 5u, 12u, 64u, 100u, 1500u, 2048u, 0xFFFF_FFFFu };
        ushort[] flags = { 0, Next, Write, Indirect, (ushort)(Next | Indirect), (ushort)(Next | Write) };
        ushort[] nexts = { victims[0], victims[1], 0, (ushort)(ringSize - 1), ringSize, 0xFFFF, 1 };
        return new GuestRewriter(r =>
        {
            int which = r.Next(victims.Length + 2);
            VringDesc* d = which < victims.Length ? table + victims[which] : indirect + (which - victims.Length);
            if (r.Next(2) == 0)
            {
                VringDesc v = valid[which];
                Volatile.Write(ref d->Addr, v.Addr);
                Volatile.Write(ref d->Len, v.Len);
                Volatile.Write(ref d->Flags, v.Flags);
                Volatile.Write(ref d->Next, v.Next);
            }
            else switch (r.Next(4))
            {
                case 0: Volatile.Write(ref d->Addr, addrs[r.Next(addrs.Length)]); break;
                case 1: Volatile.Write(ref d->Len, lens[r.Next(lens.Length)]); break;
                case 2: Volatile.Write(ref d->Flags, flags[r.Next(flags.Length)]); break;
                default: Volatile.Write(ref d->Next, nexts[r.Next(nexts.Length)]); break;
            }
        }, seed: 1234, name: "toctou-flipper");
    }

    private static ulong[] HostileAddresses(Hostile h, ulong[] victimBuffers, ulong indirectTable)
    {
        var r0 = h.Lb.Memory.Regions[0];
        return victimBuffers.Concat(new ulong[]
        {
            indirectTable,
            r0.GuestPhysAddr + r0.Size - 64,   // 64 bytes before the end of the region (then unmapped)
            0x10UL,                             // below every region
            ulong.MaxValue - 5,                 // wraps around
        }).ToArray();
    }

    [Fact]
    public void Case16_descriptors_rewritten_during_dequeue_give_packets_or_counted_drops()
    {
        using var h = new Hostile(Loopback.With(VirtioFeatures.RingIndirectDesc), ringSize: 16);
        ushort a = h.Tx.RawTakeDescriptor(), b = h.Tx.RawTakeDescriptor();
        ulong table = h.Tx.RawWriteIndirect(a, 0, h.Buf(h.Tx, a), 100, Next, 1);
        h.Tx.RawWriteIndirect(a, 1, h.Buf(h.Tx, b), 100, 0, 0);
        ulong[] addrs = HostileAddresses(h, new[] { h.Buf(h.Tx, a), h.Buf(h.Tx, b) }, table);
        h.Tx.RawWriteDesc(a, h.Buf(h.Tx, a), 100, Next, b);
        h.Tx.RawWriteDesc(b, h.Buf(h.Tx, b), 100, 0, 0);
        var indirect = (VringDesc*)h.Lb.Memory.Host(table);
        VringDesc[] valid = { h.Tx.RawDescriptors[a], h.Tx.RawDescriptors[b], indirect[0], indirect[1] };

        long packets = 0;
        int rounds;
        var mbufs = new nint[8];
        using (var flip = Flipper(h.Tx.RawDescriptors, new[] { a, b }, indirect, addrs, 16, valid))
        {
            rounds = RaceRounds.Run(20000, () => packets > 0 && h.TxRing.Stats.TotalDrops > 0, i =>
            {
                h.Tx.RawPushAvail(a);
                h.Tx.Publish();
                ushort n = h.Lb.Device.DequeueBurst(1, h.Pool, mbufs);
                for (int k = 0; k < n; k++)
                {
                    var m = (HotPath.Engine.Buffers.Mbuf*)mbufs[k];
                    Assert.True(m->PktLen > 0 && m->PktLen <= HotPath.Engine.Datapath.DatapathLimits.MaxPacketBytes);
                    HotPath.Engine.Buffers.MbufOps.Free(m);
                }
                packets += n;
                Assert.Equal(1, h.Tx.ReapTx());
            });
            Assert.True(flip.Writes > 0);
        }
        ulong drops = h.TxRing.Stats.TotalDrops;
        Assert.Equal(rounds, packets + (long)drops);
        Assert.True(drops > 0, $"the flipper never produced a bad chain ({packets} packets)");
        Assert.True(packets > 0, $"no chain was ever valid ({drops} drops)");
        Assert.False(h.TxRing.IsBroken);
        Assert.Equal(0u, h.Pool.InUse);
        // After the storm the ring still carries a clean packet.
        h.PostGoodTx(99);
        h.Tx.Publish();
        Assert.True(Payload.Matches(Assert.Single(h.Dequeue()), 99));
    }

    [Fact]
    public void Case16_descriptors_rewritten_during_enqueue_never_get_writes_outside_guest_buffers()
    {
        using var h = new Hostile(Loopback.With(VirtioFeatures.RingIndirectDesc, VirtioFeatures.NetMrgRxbuf), ringSize: 16);
        ushort a = h.Rx.RawTakeDescriptor(), b = h.Rx.RawTakeDescriptor();
        ulong table = h.Rx.RawWriteIndirect(a, 0, h.Buf(h.Rx, a), 100, (ushort)(Write | Next), 1);
        h.Rx.RawWriteIndirect(a, 1, h.Buf(h.Rx, b), 100, Write, 0);
        ulong[] addrs = HostileAddresses(h, new[] { h.Buf(h.Rx, a), h.Buf(h.Rx, b) }, table);
        h.Rx.RawWriteDesc(a, h.Buf(h.Rx, a), 100, (ushort)(Write | Next), b);
        h.Rx.RawWriteDesc(b, h.Buf(h.Rx, b), 100, Write, 0);
        var indirect = (VringDesc*)h.Lb.Memory.Host(table);
        VringDesc[] valid = { h.Rx.RawDescriptors[a], h.Rx.RawDescriptors[b], indirect[0], indirect[1] };

        long delivered = 0, consumed = 0;
        using (var flip = Flipper(h.Rx.RawDescriptors, new[] { a, b }, indirect, addrs, 16, valid))
        {
            RaceRounds.Run(20000, () => delivered > 0 && h.RxRing.Stats.TotalDrops > 0, i =>
            {
                // A chain the device left in place (too small for the packet) stays posted; post again once used.
                if (h.Rx.InFlight == 0)
                {
                    h.Rx.RawPushAvail(a);
                    h.Rx.Publish();
                }
                delivered += h.Enqueue((ulong)i, size: 150);
                consumed += h.Rx.ReapTx();
            });
            Assert.True(flip.Writes > 0);
        }
        // Every used entry is either the packet (length > 0) or a dropped chain: count matches the drop counter.
        Assert.Equal(consumed, delivered + (long)h.RxRing.Stats.TotalDrops);
        Assert.True(h.RxRing.Stats.TotalDrops > 0, $"the flipper never produced a bad chain ({delivered} delivered, {consumed} used)");
        Assert.True(delivered > 0, $"no chain was ever valid ({h.RxRing.Stats.TotalDrops} drops)");
        Assert.True(h.Lb.GuardsIntact(), "a byte outside the guest's buffers changed");
        Assert.False(h.RxRing.IsBroken);
    }
}
