using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;

namespace HotPath.Frontend.Rings;

/// <summary>
/// The driver side of one packed virtqueue (virtio 1.1 section 2.7), the packed twin of <see cref="SplitRingDriver"/>:
/// posts TX packets and RX buffers into consecutive ring slots with the driver's avail wrap counter, publishes them
/// (head flags last, kicking the device when its event suppression area asks for it), reaps used descriptors in ring
/// order with the used wrap counter, and returns received packets (joining mergeable buffers; the shared parts are
/// in <see cref="RingDriver"/>). Buffer ids are indexes of <see cref="ChainBuffers"/>: each owns a pre-allocated
/// guest buffer; a chain takes one per descriptor and is known by its head's id, which every descriptor of the chain
/// carries. Raw members (in PackedRingDriver.Raw.cs) write arbitrary descriptors, flags and event areas for hostile
/// tests. One thread drives one instance; posting and reaping allocate nothing.
/// </summary>
public sealed unsafe partial class PackedRingDriver : RingDriver
{
    private const ushort FlagNext = VringPackedDesc.FlagNext, FlagWrite = VringPackedDesc.FlagWrite,
        FlagIndirect = VringPackedDesc.FlagIndirect;

    private readonly PackedRingWriter _ring;   // the packed layout in guest memory (descriptors, event areas)
    private readonly ushort[] _slots;      // ring slots the chain with this buffer id takes

    // avail side: next slot to fill, its wrap counter, free slots, heads written but not yet released
    private uint _nextAvail;
    private bool _availWrap = true;
    private int _freeSlots;
    private readonly uint[] _pendingSlot;
    private readonly ushort[] _pendingFlags;
    private int _nPending;
    private ushort _published;             // avail position (index | wrap << 15) the device was last shown
    private int _inFlightChains;

    // used side: next slot to read and its wrap counter
    private uint _lastUsed;
    private bool _usedWrap = true;

    public PackedRingDriver(FrontendMemory mem, RingDriverOptions? options = null)
        : base(mem, options, static (m, o) => RingAreas.AllocatePacked(m, o.Size, o.Region))
    {
        _ring = new PackedRingWriter(mem, Areas);
        _slots = new ushort[RingSize];
        _pendingSlot = new uint[RingSize];
        _pendingFlags = new ushort[RingSize];
        _freeSlots = (int)RingSize;
        _published = PackedRingLayout.Position(0, true);
    }

    /// <summary>Ring slots free for posting.</summary>
    public override int FreeDescriptors => _freeSlots;

    /// <summary>Chains posted (published or not) whose used descriptors have not been reaped.</summary>
    public override int InFlight => _inFlightChains;

    protected override bool HasRingRoom(int descriptors) => _freeSlots >= descriptors;

    /// <summary>
    /// Writes the chain into the next ring slots, every descriptor carrying the chain's id; or its entries into the
    /// head's indirect table behind one INDIRECT slot. Every descriptor but the head is written whole now; the head's
    /// flags wait for <see cref="Publish"/>.
    /// </summary>
    protected override void WriteChain(ushort head, ReadOnlySpan<uint> lens, bool indirect, bool writable)
    {
        int parts = lens.Length;
        ushort write = writable ? FlagWrite : (ushort)0;
        ushort id = head;
        if (indirect)
        {
            var table = (VringPackedDesc*)Mem.Host(IndirectGpa(head));
            for (int p = 0; p < parts; p++, id = Chains.Next(id))
                table[p] = new VringPackedDesc { Addr = Dma(Chains.Gpa(id)), Len = lens[p], Id = 0, Flags = write };
            WriteSlot(0, Dma(IndirectGpa(head)), (uint)(parts * 16), head, FlagIndirect);
            Track(head, 1, FlagIndirect, raw: false);
            return;
        }
        for (int p = 0; p < parts; p++, id = Chains.Next(id))
            WriteSlot(p, Dma(Chains.Gpa(id)), lens[p], head, (ushort)(write | (p + 1 < parts ? FlagNext : 0)));
        Track(head, (ushort)parts, (ushort)(write | (parts > 1 ? FlagNext : 0)), raw: false);
    }

    /// <summary>
    /// Writes the descriptor <paramref name="offset"/> slots after the next avail slot, available for the lap of that
    /// slot (<paramref name="flags"/> | its AVAIL/USED pattern, or exactly <paramref name="exactFlags"/>). The head
    /// (offset 0) gets everything but its flags, which <see cref="Track"/> queues for <see cref="Publish"/>.
    /// </summary>
    private void WriteSlot(int offset, ulong addr, uint len, ushort id, ushort flags, ushort? exactFlags = null)
    {
        (uint slot, bool wrap) = AvailSlot(offset);
        _ring.WriteDesc(slot, addr, len, id);
        // The device reads a chain only after its head's flags say so; the head's release store in Publish orders
        // these plain stores before it.
        if (offset != 0) _ring.WriteFlags(slot, exactFlags ?? (ushort)(flags | PackedRingLayout.AvailPattern(wrap)));
    }

    /// <summary>Slot <paramref name="offset"/> after the next avail slot and the wrap counter of its lap.</summary>
    private (uint Slot, bool Wrap) AvailSlot(int offset)
    {
        uint slot = _nextAvail + (uint)offset;
        bool wrap = _availWrap;
        if (slot >= RingSize)
        {
            slot -= RingSize;
            wrap = !wrap;
        }
        return (slot, wrap);
    }

    /// <summary>
    /// Records a chain of <paramref name="slots"/> slots at the next avail slot and queues its head's flags
    /// (<paramref name="headFlags"/> with the slot's AVAIL/USED pattern, or exactly <paramref name="exactHeadFlags"/>).
    /// </summary>
    private void Track(ushort id, ushort slots, ushort headFlags, bool raw, ushort? exactHeadFlags = null)
    {
        _slots[id] = slots;
        InFlightIds[id] = true;
        RawIds[id] = raw;
        _inFlightChains++;
        _pendingSlot[_nPending] = _nextAvail;
        _pendingFlags[_nPending] = exactHeadFlags ?? (ushort)(headFlags | PackedRingLayout.AvailPattern(_availWrap));
        _nPending++;
        (_nextAvail, _availWrap) = AvailSlot(slots);
        _freeSlots -= slots;
    }

    protected override bool TryPeekUsed(int k, out uint id, out uint len)
    {
        // The k-th used descriptor sits after the slots of the k before it (each skip known from what was posted).
        uint slot = _lastUsed;
        bool wrap = _usedWrap;
        for (int i = 0; ; i++)
        {
            if (!TryUsed(slot, wrap, out ushort u, out len))
            {
                id = 0;
                return false;
            }
            id = u;
            if (i == k) return true;
            Advance(ref slot, ref wrap, SlotsOf(u));
        }
    }

    protected override void ConsumeUsed()
    {
        TryUsed(_lastUsed, _usedWrap, out ushort id, out _);
        uint slots = SlotsOf(id);
        _inFlightChains--;
        _freeSlots += (int)slots;
        ReleaseChain(id);
        Advance(ref _lastUsed, ref _usedWrap, slots);
    }

    // ------------------------------------------------------------------ publish, kick, interrupts

    /// <summary>
    /// Releases every queued head (all but the first, then the first: the device, which reads heads in ring order,
    /// sees the whole batch at once), then kicks the kick eventfd when the device event area asks for it.
    /// </summary>
    public override bool Publish()
    {
        if (_nPending == 0) return false;
        for (int i = 1; i < _nPending; i++) ReleaseHead(_pendingSlot[i], _pendingFlags[i]);
        ReleaseHead(_pendingSlot[0], _pendingFlags[0]);
        _nPending = 0;
        ushort old = _published;
        _published = PackedRingLayout.Position(_nextAvail, _availWrap);
        return KickIfNeeded(old, _published);
    }

    // Release store (in the writer): the chain's descriptors and packet bytes are visible before the head flags.
    private void ReleaseHead(uint slot, ushort flags) => _ring.ReleaseFlags(slot, flags);

    private bool KickIfNeeded(ushort old, ushort now)
    {
        // Full fence: the head flag stores must be visible before we read the device's suppression area, or the
        // device could go to sleep on the old ring while we read its stale DISABLE (virtio_mb).
        Interlocked.MemoryBarrier();
        // One 32-bit load: off_wrap and flags from the same moment.
        uint area = _ring.DeviceEvent;
        uint flags = (area >> 16) & 3;
        bool kick = flags == VringPackedEvent.Desc
            ? PackedRingLayout.NeedEvent((ushort)area, old, now, RingSize)
            : flags != VringPackedEvent.Disable;
        if (!kick) return false;
        Kick();
        return true;
    }

    /// <summary>Interrupts at the next used descriptor: EVENT_IDX: DESC at the next used position; otherwise ENABLE.</summary>
    public override void EnableInterrupts()
    {
        if (EventIdx) SetDriverEvent(PackedRingLayout.Position(_lastUsed, _usedWrap), VringPackedEvent.Desc);
        else SetDriverEvent(0, VringPackedEvent.Enable);
    }

    public override void DisableInterrupts() => SetDriverEvent(0, VringPackedEvent.Disable);

    /// <summary>Writes the driver event suppression area: off_wrap first, then flags (release).</summary>
    public void SetDriverEvent(ushort offWrap, ushort flags) => _ring.SetDriverEvent(offWrap, flags);

    // ------------------------------------------------------------------ internals

    /// <summary>The used descriptor at <paramref name="slot"/> if the device has used it in the lap of <paramref name="wrap"/>.</summary>
    private bool TryUsed(uint slot, bool wrap, out ushort id, out uint len) => _ring.TryUsed(slot, wrap, out id, out len);

    private void Advance(ref uint slot, ref bool wrap, uint n)
    {
        slot += n;
        if (slot >= RingSize)
        {
            slot -= RingSize;
            wrap = !wrap;
        }
    }

    private uint SlotsOf(ushort id) =>
        id < RingSize && InFlightIds[id] ? _slots[id] : throw new InvalidDataException($"used id {id} is not in flight");
}
