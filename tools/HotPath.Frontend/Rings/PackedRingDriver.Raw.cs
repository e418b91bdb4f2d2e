using HotPath.Engine.Virtio;

namespace HotPath.Frontend.Rings;

/// <summary>
/// One descriptor of a raw chain: any address, length and shape flags (NEXT, WRITE, INDIRECT). The AVAIL/USED bits
/// are the right ones for the slot unless <see cref="ExactFlags"/> gives the whole flags word (wrap-counter
/// confusion, invalid combinations); <see cref="Id"/> overrides the chain's id for this descriptor.
/// </summary>
public readonly record struct RawDesc(ulong Addr, uint Len, ushort Flags = 0, ushort? Id = null, ushort? ExactFlags = null);

/// <summary>
/// Region-crossing posts and raw ring access for hostile tests and fuzzing: arbitrary descriptors, flags, chains and
/// event suppression areas, written straight into guest memory.
/// </summary>
public sealed unsafe partial class PackedRingDriver
{
    /// <summary>The descriptor ring in guest memory.</summary>
    public VringPackedDesc* RawDescriptors => _ring.Descriptors;

    /// <summary>Next slot the driver fills and the wrap counter of its lap.</summary>
    public uint NextAvail => _nextAvail;
    public bool AvailWrap => _availWrap;

    /// <summary>Next slot the driver reads a used descriptor from and the wrap counter of its lap.</summary>
    public uint LastUsed => _lastUsed;
    public bool UsedWrap => _usedWrap;

    /// <summary>The AVAIL/USED pattern of the slot <paramref name="offset"/> after the next avail slot, as available.</summary>
    public ushort AvailFlagsAt(int offset) => PackedRingLayout.AvailPattern(AvailSlot(offset).Wrap);

    /// <summary>Takes a buffer id (with its buffer, <see cref="DescriptorBuffers.Gpa"/>) out of the free list for a raw chain.</summary>
    public ushort RawTakeBuffer()
    {
        if (Chains.Free == 0) throw new InvalidOperationException("no free buffers");
        return Chains.Pop();
    }

    /// <summary>Gives a buffer id taken with <see cref="RawTakeBuffer"/> back to the free list.</summary>
    public void RawRelease(ushort id) => Chains.Push(id);

    /// <summary>
    /// Writes <paramref name="chain"/> into the next ring slots as buffer <paramref name="id"/> (below the ring size),
    /// its head flags queued for <see cref="Publish"/>. The used descriptor the device returns for
    /// <paramref name="id"/> is reaped as covering <paramref name="chain"/>.Length slots, freeing nothing.
    /// </summary>
    public void RawPost(ushort id, params RawDesc[] chain)
    {
        if (id >= RingSize) throw new ArgumentOutOfRangeException(nameof(id));
        if (chain.Length == 0 || chain.Length > _freeSlots) throw new ArgumentException("chain does not fit the free slots", nameof(chain));
        for (int i = 0; i < chain.Length; i++)
            WriteSlot(i, chain[i].Addr, chain[i].Len, chain[i].Id ?? id, chain[i].Flags, chain[i].ExactFlags);
        Track(id, (ushort)chain.Length, chain[0].Flags, raw: true, chain[0].ExactFlags);
    }

    /// <summary>Writes the descriptor at ring slot <paramref name="slot"/> exactly as given (flags last, release).</summary>
    public void RawWriteDesc(uint slot, ulong addr, uint len, ushort id, ushort flags)
    {
        _ring.WriteDesc(slot, addr, len, id);
        _ring.ReleaseFlags(slot, flags);
    }

    /// <summary>Writes one entry of the indirect table area owned by buffer <paramref name="head"/>; returns the table's gpa.</summary>
    public ulong RawWriteIndirect(ushort head, int entry, ulong addr, uint len, ushort flags)
    {
        if (entry < 0 || entry >= MaxIndirect) throw new ArgumentOutOfRangeException(nameof(entry));
        var table = (VringPackedDesc*)Mem.Host(IndirectGpa(head));
        table[entry] = new VringPackedDesc { Addr = addr, Len = len, Id = 0, Flags = flags };
        return IndirectGpa(head);
    }

    /// <summary>The descriptor at ring slot <paramref name="slot"/> as it is now (e.g. a used descriptor).</summary>
    public VringPackedDesc RawAt(uint slot) => _ring.At(slot);

    /// <summary>
    /// The used descriptors from the driver's next used slot on, as far as the device has published them, each with
    /// the slot it sits in; a raw chain's skip comes from what was posted for its id (unknown ids end the walk).
    /// </summary>
    public List<(uint Slot, VringPackedDesc Desc)> PeekUsed()
    {
        var l = new List<(uint, VringPackedDesc)>();
        uint slot = _lastUsed;
        bool wrap = _usedWrap;
        for (int i = 0; i < RingSize && TryUsed(slot, wrap, out ushort id, out _); i++)
        {
            l.Add((slot, RawAt(slot)));
            if (id >= RingSize || !InFlightIds[id]) break;
            Advance(ref slot, ref wrap, _slots[id]);
        }
        return l;
    }

    /// <summary>
    /// Forgets everything in flight (buffers of our chains go back to the free list, raw chains are dropped) and
    /// moves both the avail and the used side to <paramref name="slot"/> in the lap of <paramref name="wrap"/>: the
    /// driver half of restarting a ring from a base (after a test let the two sides drift apart on purpose).
    /// </summary>
    public void RawRestart(uint slot, bool wrap)
    {
        if (slot >= RingSize) throw new ArgumentOutOfRangeException(nameof(slot));
        ForgetAll();
        _inFlightChains = 0;
        _nPending = 0;
        _freeSlots = (int)RingSize;
        _nextAvail = _lastUsed = slot;
        _availWrap = _usedWrap = wrap;
        _published = PackedRingLayout.Position(slot, wrap);
    }

    /// <summary>The device event suppression area (kick suppression, written by the device).</summary>
    public ushort DeviceEventFlags => _ring.DeviceEventFlags;
    public ushort DeviceEventOffWrap => _ring.DeviceEventOffWrap;

    /// <summary>The driver event suppression area as we last wrote it.</summary>
    public ushort DriverEventFlags => _ring.DriverEventFlags;
}
