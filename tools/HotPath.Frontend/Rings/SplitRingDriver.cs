using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;

namespace HotPath.Frontend.Rings;

/// <summary>
/// The driver side of one split virtqueue (what a guest's virtio-net driver does), in memory from a
/// <see cref="FrontendMemory"/>: posts TX packets and RX buffers, publishes the avail index, kicks the device when
/// it asks for it, reaps used entries and returns received packets (joining mergeable buffers; the shared parts are
/// in <see cref="RingDriver"/>). Every descriptor id owns a pre-allocated guest buffer and free ids sit on a stack
/// (<see cref="ChainBuffers"/>), so posting and reaping allocate nothing.
/// Raw members (<c>Raw*</c>, in SplitRingDriver.Raw.cs) write arbitrary descriptors and indexes for hostile tests.
/// One thread drives one instance.
/// </summary>
public sealed unsafe partial class SplitRingDriver : RingDriver
{
    private readonly SplitRingWriter _ring;   // the split layout in guest memory
    private int _rawOutOfRange;       // raw heads >= size posted and not reaped yet

    private ushort _availShadow;      // next avail index to fill
    private ushort _availPublished;   // value of avail.idx the device sees
    private ushort _lastUsed;

    public SplitRingDriver(FrontendMemory mem, RingDriverOptions? options = null)
        : base(mem, options, static (m, o) => RingAreas.AllocateSplit(m, o.Size, o.Region))
    {
        _ring = new SplitRingWriter(mem, Areas);
    }

    /// <summary>Free descriptor ids.</summary>
    public override int FreeDescriptors => Chains.Free;

    /// <summary>Avail entries posted (published or not) whose used entries have not been reaped.</summary>
    public override int InFlight => (ushort)(_availShadow - _lastUsed);

    protected override bool HasRingRoom(int descriptors) => true;   // ids are the descriptors: Chains.Free decides

    /// <summary>
    /// Writes the chain's descriptors (ids = buffer indexes) linked by next, or its entries into the head's indirect
    /// table behind one INDIRECT descriptor; records the chain and fills the next avail slot.
    /// </summary>
    protected override void WriteChain(ushort head, ReadOnlySpan<uint> lens, bool indirect, bool writable)
    {
        int parts = lens.Length;
        ushort write = writable ? VringDesc.FlagWrite : (ushort)0;
        var table = indirect ? (VringDesc*)Mem.Host(IndirectGpa(head)) : null;
        ushort id = head;
        for (int p = 0; p < parts; p++)
        {
            ushort next = Chains.Next(id);
            ushort flags = (ushort)(write | (p + 1 < parts ? VringDesc.FlagNext : 0));
            if (indirect) table[p] = new VringDesc { Addr = Dma(Chains.Gpa(id)), Len = lens[p], Flags = flags, Next = (ushort)(p + 1) };
            else SetDesc(id, Dma(Chains.Gpa(id)), lens[p], flags, next);
            id = next;
        }
        if (indirect) SetDesc(head, Dma(IndirectGpa(head)), (uint)(parts * 16), VringDesc.FlagIndirect, 0);
        InFlightIds[head] = true;
        RawIds[head] = false;
        PushAvail(head);
    }

    protected override bool TryPeekUsed(int k, out uint id, out uint len)
    {
        // Acquire: the used elements the device wrote before publishing this index are read after it.
        ushort usedIdx = _ring.UsedIdx;
        if ((ushort)(usedIdx - _lastUsed) <= k)
        {
            id = len = 0;
            return false;
        }
        VringUsedElem e = ReadUsed((ushort)(_lastUsed + k));
        id = e.Id;
        len = e.Len;
        return true;
    }

    protected override void ConsumeUsed()
    {
        uint id = ReadUsed(_lastUsed).Id;
        _lastUsed++;
        if (id < RingSize)
        {
            ReleaseChain(id);
            return;
        }
        if (_rawOutOfRange == 0) throw new InvalidDataException($"used id {id} is out of range");
        _rawOutOfRange--;
    }

    // ------------------------------------------------------------------ publish, kick, interrupts

    /// <summary>
    /// Makes every posted entry visible to the device (release store of avail.idx), then kicks the kick eventfd when
    /// the device asks for it. Returns true when it kicked.
    /// </summary>
    public override bool Publish()
    {
        ushort old = _availPublished;
        ushort now = _availShadow;
        if (old == now) return false;
        // Release: descriptors and avail ring entries written above are visible before the index that exposes them.
        _ring.AvailIdx = now;
        _availPublished = now;
        return KickIfNeeded(old, now);
    }

    private bool KickIfNeeded(ushort old, ushort now)
    {
        // Full fence: the avail.idx store must be visible before we read the device's suppression fields, or the
        // device could go to sleep on the old index while we read its stale "no notify" setting (virtio_mb).
        Interlocked.MemoryBarrier();
        bool kick;
        if (EventIdx)
        {
            kick = SplitRingLayout.NeedEvent(_ring.AvailEvent, now, old);
        }
        else
        {
            kick = (_ring.UsedFlags & SplitRingLayout.UsedFlagNoNotify) == 0;
        }
        if (!kick) return false;
        Kick();
        return true;
    }

    /// <summary>VRING_AVAIL_F_NO_INTERRUPT (meaningful without EVENT_IDX).</summary>
    public bool NoInterrupt
    {
        get => (_ring.AvailFlags & SplitRingLayout.AvailFlagNoInterrupt) != 0;
        set => _ring.AvailFlags = value ? SplitRingLayout.AvailFlagNoInterrupt : (ushort)0;
    }

    /// <summary>EVENT_IDX used_event: the device interrupts once the used index passes this value.</summary>
    public ushort UsedEvent
    {
        get => _ring.UsedEvent;
        set => _ring.UsedEvent = value;
    }

    /// <summary>Asks for an interrupt at the next used entry (EVENT_IDX: used_event = next used; otherwise clears NO_INTERRUPT).</summary>
    public override void EnableInterrupts()
    {
        if (EventIdx) UsedEvent = _lastUsed;
        else NoInterrupt = false;
    }

    /// <summary>Asks for no interrupts: NO_INTERRUPT (a hint the device may ignore; without effect under EVENT_IDX).</summary>
    public override void DisableInterrupts() => NoInterrupt = true;

    // ------------------------------------------------------------------ internals

    private void SetDesc(ushort id, ulong addr, uint len, ushort flags, ushort next) => _ring.WriteDesc(id, addr, len, flags, next);

    private void PushAvail(ushort head) => _ring.WriteAvail(_availShadow++, head);

    private VringUsedElem ReadUsed(ushort idx) => _ring.Used(idx);
}
