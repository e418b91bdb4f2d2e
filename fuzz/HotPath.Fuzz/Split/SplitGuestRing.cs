using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;

namespace HotPath.Fuzz.Split;

/// <summary>
/// The guest driver of one split ring in a fuzz case: turns <see cref="ChainSpec"/>s into descriptors, indirect tables,
/// buffer contents and avail entries in real guest memory, lies as each spec says, and frees a chain's descriptor ids
/// and memory once the device has consumed every avail entry that names it. Positions are free-running counts from
/// the ring's start index. The ring itself is written through the frontend's <see cref="SplitRingWriter"/>, as the
/// tests' and benchmarks' drivers write it; indirect tables (which may straddle regions) through <see cref="GuestWrites"/>.
/// </summary>
internal sealed class SplitGuestRing : FuzzGuestRing
{
    private readonly SplitRingWriter _ring;   // the split layout, written as the frontend's driver writes it
    private readonly Stack<ushort> _free = new();
    private readonly Dictionary<int, (ushort[] Ids, long LastPosition)> _posted = new();
    private long _written;       // avail entries written (positions are _start + n)
    private readonly ushort _start;

    public SplitGuestRing(FrontendMemory mem, SplitLayout layout, Arena buffers, Arena tables, RingAreas ring, bool tx, int hdr, ushort start)
        : base(mem, layout, buffers, tables, tx, hdr)
    {
        _ring = new SplitRingWriter(mem, ring);
        _start = start;
        for (int i = (int)ring.Size - 1; i >= 0; i--) _free.Push((ushort)i);
        _ring.AvailIdx = start;
        _ring.UsedIdx = start;   // as a driver initialises it
    }

    private uint Size => _ring.Size;

    /// <summary>Posts <paramref name="chains"/> and publishes avail.idx, <paramref name="extra"/> entries beyond them.</summary>
    public void Post(IReadOnlyList<ChainSpec> chains, ushort extra, int seed)
    {
        for (int c = 0; c < chains.Count; c++) PostChain(chains[c], seed * 1000 + c);
        _written += extra;   // stale or never-written entries the device will read
        _ring.AvailIdx = (ushort)(_start + _written);   // release: descriptors and avail entries before the index
    }

    /// <summary>The device consumed every entry before <paramref name="consumed"/> (free-running u16 from the start).</summary>
    public void Reap(long consumed)
    {
        foreach ((int owner, (ushort[] ids, long last)) in _posted.ToArray())
        {
            if (last >= consumed) continue;
            foreach (ushort id in ids) _free.Push(id);
            Release(owner);
            _posted.Remove(owner);
        }
    }

    private void PushAvail(ushort head)
    {
        _ring.WriteAvail((ushort)(_start + _written), head);
        _written++;
    }

    private void PostChain(ChainSpec c, int seed)
    {
        int owner = NewOwner();
        if (c.Fault == ChainFault.HeadOutOfRange)
        {
            PushAvail((seed % 3) switch { 0 => (ushort)Size, 1 => ushort.MaxValue, _ => (ushort)(Size + 0x7FFF) });
            return;
        }
        bool indirect = c.Form != ChainForm.Direct;
        int ringDescs = indirect ? 1 : c.Descs.Length;
        if (c.Descs.Length == 0 || _free.Count < ringDescs) return;   // no room: the guest posts nothing
        var ids = new ushort[ringDescs];
        for (int i = 0; i < ringDescs; i++) ids[i] = _free.Pop();

        ulong[] addrs = PlaceBuffers(c.Descs.Select(d => d.Buf).ToArray(), c.Header, owner, seed);
        ushort dir = Tx ? (ushort)0 : Write;
        if (!indirect)
        {
            for (int i = 0; i < ids.Length; i++)
            {
                bool last = i == ids.Length - 1;
                ushort flags = (ushort)(dir | (last ? 0 : Next));
                ushort next = last ? (ushort)0 : ids[i + 1];
                (flags, next) = ApplyFault(c.Descs[i].Fault, flags, next, limit: Size, first: ids[0], isRingHead: i == 0);
                _ring.WriteDesc(ids[i], addrs[i], c.Descs[i].Buf.Len, flags, next);
            }
        }
        else
        {
            PostIndirect(c, owner, ids[0], addrs, dir);
        }
        PushAvail(ids[0]);
        if (c.Fault == ChainFault.DuplicateHead) PushAvail(ids[0]);
        _posted[owner] = (ids, _written - 1);
    }

    private void PostIndirect(ChainSpec c, int owner, ushort head, ulong[] addrs, ushort dir)
    {
        int k = c.Descs.Length;
        ulong table = PlaceIndirectTable(c.Form, k, Size, tooLarge: c.Fault == ChainFault.IndirectTooLarge, owner, out uint entries);
        for (int i = 0; i < k; i++)
        {
            bool last = i == k - 1;
            ushort flags = (ushort)(dir | (last ? 0 : Next));
            ushort next = last ? (ushort)0 : (ushort)(i + 1);
            (flags, next) = ApplyFault(c.Descs[i].Fault, flags, next, limit: entries, first: 0, isRingHead: false);
            WriteTableEntry(table, i, addrs[i], c.Descs[i].Buf.Len, flags, next);
        }
        (ulong addr, uint len, ushort headFlags) = IndirectHeads.Head(table, entries, c.IndirectHeadWritable ? Write : (ushort)0,
            withNext: c.Fault == ChainFault.IndirectWithNext, lenZero: c.Fault == ChainFault.IndirectLenZero,
            lenOdd: c.Fault == ChainFault.IndirectLenOdd, outside: c.Fault == ChainFault.IndirectOutside);
        _ring.WriteDesc(head, addr, len, headFlags, 0);
    }

    private static (ushort Flags, ushort Next) ApplyFault(DescFault f, ushort flags, ushort next, uint limit, ushort first, bool isRingHead) => f switch
    {
        DescFault.WrongDirection => ((ushort)(flags ^ Write), next),
        // INDIRECT on a ring head would make it a (valid) indirect table pointer, not a fault: only elsewhere.
        DescFault.Indirect when !isRingHead => ((ushort)(flags | Indirect), next),
        DescFault.NextOutOfRange => ((ushort)(flags | Next), (ushort)Math.Min(limit, ushort.MaxValue)),
        DescFault.NextLoop => ((ushort)(flags | Next), first),
        _ => (flags, next),
    };
}
