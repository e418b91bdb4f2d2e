using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Fuzz.Split;

namespace HotPath.Fuzz.Packed;

/// <summary>
/// The guest driver of one packed ring in a fuzz case: writes <see cref="PackedChainSpec"/>s as consecutive ring
/// descriptors (or one descriptor and an indirect table) at its own avail position with the AVAIL/USED bits of each
/// slot's lap, lies as each spec says, and frees a chain's memory once the device has consumed every descriptor of it.
/// It never has more descriptors outstanding than the ring has slots. Flags it wrote wrong on purpose
/// (<see cref="PackedDescFault.WrongWrap"/>) are set right at its next post. The ring itself is written through the
/// frontend's <see cref="PackedRingWriter"/>, as the tests' and benchmarks' drivers write it.
/// </summary>
internal sealed class PackedGuestRing : FuzzGuestRing
{
    private readonly PackedRingWriter _ring;   // the packed layout, written as the frontend's driver writes it
    private readonly List<(int Owner, long End)> _posted = new();
    private readonly List<(uint Slot, ushort Flags)> _repairs = new();
    private uint _index;
    private bool _wrap;
    private long _written;       // descriptors written since the start
    private ushort _lastId;

    public PackedGuestRing(FrontendMemory mem, SplitLayout layout, Arena buffers, Arena tables, RingAreas ring, bool tx, int hdr,
        uint startIndex, bool startWrap)
        : base(mem, layout, buffers, tables, tx, hdr)
    {
        _ring = new PackedRingWriter(mem, ring);
        _index = startIndex;
        _wrap = startWrap;
    }

    private uint Size => _ring.Size;

    /// <summary>Descriptors written and not yet consumed, given the device consumed <paramref name="consumed"/>.</summary>
    private long Outstanding(long consumed) => _written - consumed;

    /// <summary>Repairs flags left wrong, then posts <paramref name="chains"/> (as many as fit).</summary>
    public void Post(IReadOnlyList<PackedChainSpec> chains, long consumed, int seed)
    {
        foreach ((uint slot, ushort flags) in _repairs) _ring.ReleaseFlags(slot, flags);
        _repairs.Clear();
        for (int c = 0; c < chains.Count; c++) PostChain(chains[c], consumed, seed * 1000 + c);
    }

    /// <summary>The device consumed every descriptor before <paramref name="consumed"/> (counted from the start).</summary>
    public void Reap(long consumed)
    {
        for (int i = _posted.Count - 1; i >= 0; i--)
        {
            if (_posted[i].End > consumed) continue;
            Release(_posted[i].Owner);
            _posted.RemoveAt(i);
        }
    }

    private void PostChain(PackedChainSpec c, long consumed, int seed)
    {
        bool indirect = c.Form != ChainForm.Direct;
        int ringDescs = indirect ? 1 : c.Descs.Length;
        if (c.Descs.Length == 0 || Outstanding(consumed) + ringDescs > Size) return;   // no room: the guest posts nothing
        int owner = NewOwner();
        ulong[] addrs = PlaceBuffers(c.Descs.Select(d => d.Buf).ToArray(), c.Header, owner, seed);
        ushort id = c.Fault == PackedChainFault.DuplicateId ? _lastId : (ushort)(seed * 7 + 3);
        if (c.Fault == PackedChainFault.DuplicateId) Core.Coverage.Hit("packed.guest-duplicate-id");
        _lastId = id;
        ushort dir = Tx ? (ushort)0 : Write;
        if (indirect)
        {
            PostIndirect(c, owner, id, addrs, dir);
        }
        else
        {
            // Descriptors after the head first, the head's flags last (a driver's release of the whole chain).
            var heads = new List<(uint Slot, ushort Flags)>();
            for (int i = 0; i < c.Descs.Length; i++)
            {
                bool last = i == c.Descs.Length - 1;
                ushort flags = (ushort)(dir | (last ? 0 : Next));
                switch (c.Descs[i].Fault)
                {
                    case PackedDescFault.WrongDirection: flags ^= Write; break;
                    // INDIRECT alone on a one-descriptor chain would be a (valid) table pointer: only with NEXT around.
                    case PackedDescFault.Indirect when c.Descs.Length > 1: flags |= Indirect; break;
                    case PackedDescFault.DanglingNext when last:
                        flags |= Next;
                        Core.Coverage.Hit("packed.guest-dangling-next");
                        break;
                }
                WriteSlot(addrs[i], c.Descs[i].Buf.Len, last ? id : (ushort)(id ^ 0x5A5A), flags, c.Descs[i].Fault == PackedDescFault.WrongWrap, seed + i, heads);
            }
            foreach ((uint slot, ushort flags) in heads) _ring.ReleaseFlags(slot, flags);
        }
        _posted.Add((owner, _written));
    }

    /// <summary>Writes the next ring slot; its flags (with the lap's AVAIL/USED bits, or wrong ones) go to <paramref name="flagStores"/>.</summary>
    private void WriteSlot(ulong addr, uint len, ushort id, ushort flags, bool wrongWrap, int seed, List<(uint, ushort)> flagStores)
    {
        ushort right = (ushort)(flags | PackedRingLayout.AvailPattern(_wrap));
        ushort written = right;
        if (wrongWrap)
        {
            // The three combinations that are not "available" for this lap.
            ushort other = (ushort)((seed & 3) switch
            {
                0 => PackedRingLayout.AvailPattern(!_wrap),
                1 => PackedRingLayout.UsedPattern(_wrap),
                _ => PackedRingLayout.UsedPattern(!_wrap),
            });
            written = (ushort)(flags | other);
            Core.Coverage.Hit("packed.guest-wrong-wrap-bits");
            _repairs.Add((_index, right));
        }
        _ring.WriteDesc(_index, addr, len, id);
        flagStores.Insert(0, (_index, written));
        _written++;
        if (++_index == Size)
        {
            _index = 0;
            _wrap = !_wrap;
        }
    }

    private void PostIndirect(PackedChainSpec c, int owner, ushort id, ulong[] addrs, ushort dir)
    {
        int k = c.Descs.Length;
        ulong table = PlaceIndirectTable(c.Form, k, Size, tooLarge: c.Fault == PackedChainFault.IndirectTooLarge, owner, out uint entries);
        for (int i = 0; i < k; i++)
        {
            // Entries' NEXT bits carry nothing in a packed indirect table; set them as a driver might.
            ushort flags = (ushort)(dir | (i == k - 1 ? 0 : Next));
            if (c.Descs[i].Fault == PackedDescFault.WrongDirection) flags ^= Write;
            if (c.Fault == PackedChainFault.IndirectNested && i == k - 1) flags |= Indirect;
            // Packed layout: id (0: an entry's id carries nothing) at 12, flags at 14.
            WriteTableEntry(table, i, addrs[i], c.Descs[i].Buf.Len, 0, flags);
        }
        (ulong addr, uint len, ushort headFlags) = IndirectHeads.Head(table, entries, 0,
            withNext: c.Fault == PackedChainFault.IndirectWithNext, lenZero: c.Fault == PackedChainFault.IndirectLenZero,
            lenOdd: c.Fault == PackedChainFault.IndirectLenOdd, outside: c.Fault == PackedChainFault.IndirectOutside);
        var heads = new List<(uint, ushort)>();
        WriteSlot(addr, len, id, headFlags, c.Descs[0].Fault == PackedDescFault.WrongWrap, id, heads);
        foreach ((uint slot, ushort flags) in heads) _ring.ReleaseFlags(slot, flags);
    }
}
