using HotPath.Engine.Memory;

namespace HotPath.Engine.Vrings;

/// <summary>
/// One virtqueue as the vhost-user control plane configures it: size, ring addresses, base indexes, eventfds and
/// the enable bit, plus the host pointers translated from the addresses. The datapath state of the split and
/// packed ring types lives in partial files beside this one.
/// The configuration the control plane owns (size, addresses, eventfds, the enable bit, the base) is read-only to
/// the outside and changed only by the methods below, which take the held lock as an <c>in VringLockScope</c>
/// argument: a caller without <see cref="Hold"/> (or <see cref="DeviceLockScope.For"/>) cannot call them. The
/// datapath state the bursts use (indexes, wrap counters, translated pointers) stays in plain fields.
/// </summary>
public sealed unsafe partial class Vring
{
    /// <summary>No SET_VRING_KICK/CALL received yet (DPDK's VIRTIO_UNINITIALIZED_EVENTFD).</summary>
    public const int FdUninitialized = -2;
    /// <summary>The frontend sent the NOFD flag: polling mode, no eventfd (DPDK's VIRTIO_INVALID_EVENTFD).</summary>
    public const int FdNone = -1;

    public const uint AddrFlagLog = 1;   // VHOST_VRING_F_LOG

    public VringAccessLock AccessLock;

    /// <summary>
    /// Takes the access lock, waiting for the burst in flight, then settles the async queue if the ring has one (no
    /// copy in flight, every reserved chain used: Async/README.md); the scope's Dispose releases it.
    /// </summary>
    public VringLockScope Hold()
    {
        AccessLock.Enter();
        Async?.Settle();
        return new VringLockScope(this, owns: true);
    }

    public readonly int Index;

    // ---- configuration from the frontend (changed only by the methods that take the held lock) ----
    /// <summary>SET_VRING_NUM (0: not yet).</summary>
    public uint Size { get; private set; }
    /// <summary>SET_VRING_ADDR (frontend virtual addresses; the log address is a guest physical address).</summary>
    public ulong DescUserAddr { get; private set; }
    public ulong AvailUserAddr { get; private set; }
    public ulong UsedUserAddr { get; private set; }
    public ulong LogGuestAddr { get; private set; }
    /// <summary>
    /// Where used-ring writes are logged (VHOST_VRING_F_LOG): <see cref="LogGuestAddr"/>, or under IOMMU_PLATFORM,
    /// where that is an IOVA (QEMU sends the used ring's), the guest physical address it translates to, set when the
    /// ring is translated (DPDK's translate_log_addr).
    /// </summary>
    public ulong LogGuestPhysAddr { get; private set; }
    public uint AddrFlags { get; private set; }
    /// <summary>SET_VRING_ADDR was accepted (and not taken back).</summary>
    public bool AddrSet { get; private set; }
    private int _kickFd = FdUninitialized, _callFd = FdUninitialized, _errFd = FdUninitialized;
    public int KickFd => _kickFd;
    public int CallFd => _callFd;
    public int ErrFd => _errFd;
    public bool Enabled { get; private set; }

    // ---- translated pointers, valid while the memory table they came from is current ----
    /// <summary>Descriptor table (split or packed).</summary>
    public byte* Desc;
    /// <summary>Split: avail ring. Packed: driver event suppression area.</summary>
    public byte* Avail;
    /// <summary>Split: used ring. Packed: device event suppression area.</summary>
    public byte* Used;
    /// <summary>Guest physical address of the used ring (for dirty logging of used-ring writes).</summary>
    public ulong UsedGuestPhysAddr { get; private set; }
    public bool IsPacked;

    // ---- indexes ----
    /// <summary>Split: free-running next avail index to read. Packed: next descriptor slot (0..size-1).</summary>
    public ushort LastAvailIdx;
    /// <summary>Split: free-running next used index to write. Packed: next used slot.</summary>
    public ushort LastUsedIdx;
    public bool AvailWrapCounter = true;
    public bool UsedWrapCounter = true;

    /// <summary>
    /// Set when the guest broke the ring (e.g. avail index jump); the datapath stops using it. The datapath sets it
    /// (internal); the control plane through <see cref="SetBrokenReason"/>.
    /// </summary>
    public VringError BrokenReason { get; internal set; }
    public bool IsBroken => BrokenReason != VringError.None;

    /// <summary>
    /// Readiness as last reported through vring_state_changed: bookkeeping of the session thread, which alone
    /// reads and writes it (the datapath never does).
    /// </summary>
    public bool ReportedReady { get; internal set; }

    public Vring(int index) => Index = index;

    public bool IsTranslated => Desc != null && Avail != null && Used != null;

    /// <summary>DPDK's vq_is_ready: rings translated, kick and call fds received (or NOFD), enabled.</summary>
    public bool IsReady
    {
        // Read on every burst call, most of them empty polls: inlined (a call cost 20 instructions under callgrind).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => IsTranslated && KickFd != FdUninitialized && CallFd != FdUninitialized && Enabled && !IsBroken;
    }

    /// <summary>Validates a SET_VRING_NUM value (SECURITY.md case 4).</summary>
    public static VringError ValidateSize(uint num, bool packed)
    {
        if (num == 0 || num > SplitRingLayout.MaxSize) return VringError.BadSize;
        if (!packed && !uint.IsPow2(num)) return VringError.BadSize;
        return VringError.None;
    }

    /// <summary>Checks SET_VRING_ADDR fields that need no memory table (SECURITY.md case 6).</summary>
    public static VringError ValidateAddresses(ulong desc, ulong avail, ulong used, uint flags, bool packed)
    {
        if ((flags & ~AddrFlagLog) != 0) return VringError.UnknownAddrFlags;
        if ((desc & 15) != 0) return VringError.DescMisaligned;
        // Packed event suppression areas are 4-byte aligned; split avail is 2-, used 4-byte aligned.
        if ((avail & (packed ? 3UL : 1UL)) != 0) return VringError.AvailMisaligned;
        if ((used & 3) != 0) return VringError.UsedMisaligned;
        return VringError.None;
    }

    /// <summary>
    /// Translates the ring addresses through <paramref name="memory"/>. Each area must lie entirely inside one
    /// region. On failure the pointers are cleared and the reason is returned.
    /// </summary>
    /// <remarks>With <paramref name="iotlb"/> (VIRTIO_F_IOMMU_PLATFORM) the addresses are IOVAs: translated through
    /// the IOTLB into frontend virtual addresses first (split: desc and avail readable, used writable; packed: desc
    /// readable and writable, the driver area readable, the device area writable). A miss returns
    /// <see cref="VringError.IotlbMiss"/> with the address in <see cref="RingMissIova"/>.</remarks>
    public VringError Translate(GuestMemory? memory, bool packed, in VringLockScope held, Iommu.IotlbCache? iotlb = null)
    {
        Debug.Assert(held.Covers(this));
        Invalidate(held);
        // Translation runs again on each of SET_VRING_NUM, SET_VRING_ADDR, SET_FEATURES and every memory table
        // change. Before the size is known, each area must at least start inside memory (one entry's worth), so a
        // ring outside memory is refused at SET_VRING_ADDR; the pointers are kept only once the size is known.
        if (!AddrSet) return VringError.None;
        if (memory == null) return VringError.NoMemoryTable;
        uint size = Size == 0 ? 1 : Size;
        VringError e = ValidateSize(size, packed);
        if (e != VringError.None) return e;
        ulong descBytes = packed ? PackedRingLayout.DescBytes(size) : SplitRingLayout.DescBytes(size);
        ulong availBytes = packed ? PackedRingLayout.EventBytes : SplitRingLayout.AvailBytes(size);
        ulong usedBytes = packed ? PackedRingLayout.EventBytes : SplitRingLayout.UsedBytes(size);

        // A packed ring's descriptors are written too (used entries go in place).
        e = AreaToUser(iotlb, DescUserAddr, descBytes, packed ? Iommu.IotlbPerm.ReadWrite : Iommu.IotlbPerm.Read, out ulong descUser);
        if (e != VringError.None) return e;
        byte* desc = memory.QvaToHost(descUser, descBytes);
        if (desc == null) return VringError.DescOutsideMemory;
        e = AreaToUser(iotlb, AvailUserAddr, availBytes, Iommu.IotlbPerm.Read, out ulong availUser);
        if (e != VringError.None) return e;
        byte* avail = memory.QvaToHost(availUser, availBytes);
        if (avail == null) return VringError.AvailOutsideMemory;
        e = AreaToUser(iotlb, UsedUserAddr, usedBytes, Iommu.IotlbPerm.Write, out ulong usedUser);
        if (e != VringError.None) return e;
        byte* used = memory.QvaToHost(usedUser, usedBytes);
        if (used == null) return VringError.UsedOutsideMemory;
        // The log address need not be guest memory (vhost-user "Migration"): the log only has to cover the ring's
        // last byte, which the log checks on every write. Refuse only an address whose ring would wrap.
        if ((AddrFlags & AddrFlagLog) != 0 && LogGuestAddr > ulong.MaxValue - usedBytes)
            return VringError.LogAddrInvalid;
        ulong logGpa = LogGuestAddr;
        if (iotlb != null && (AddrFlags & AddrFlagLog) != 0)
        {
            // An IOVA: through the IOTLB (a miss waits for the update, as the ring areas do) to a frontend virtual
            // address, then to the guest physical address the log is kept by. The whole used ring must map to one
            // contiguous range of one region, so every used-ring offset from there is a guest physical address too.
            e = AreaToUser(iotlb, LogGuestAddr, usedBytes, Iommu.IotlbPerm.Write, out ulong logUser);
            if (e != VringError.None) return e;
            if (memory.QvaToHost(logUser, usedBytes) == null) return VringError.LogAddrOutsideMemory;
            logGpa = memory.QvaToGpa(logUser);
        }

        if (Size == 0) return VringError.None;
        Desc = desc;
        Avail = avail;
        Used = used;
        LogGuestPhysAddr = logGpa;
        UsedGuestPhysAddr = memory.QvaToGpa(usedUser);
        DescGuestPhysAddr = memory.QvaToGpa(descUser);
        IsPacked = packed;
        ResetDatapath(held);
        // A packed ring's positions are slot indexes: after a size change (SET_VRING_NUM on a ring that ran) they may
        // lie past the new end, where the descriptor table was not translated. Split indexes are free-running and
        // masked by the size, so they never can. Such a ring stays unusable until SET_VRING_BASE puts its positions
        // back inside (SECURITY.md 22).
        if (packed && (LastAvailIdx >= Size || LastUsedIdx >= Size)) BrokenReason = VringError.PositionOutsideRing;
        else if (BrokenReason == VringError.PositionOutsideRing) BrokenReason = VringError.None;
        return VringError.None;
    }

    /// <summary>The IOVA the last ring translation missed on, and the access it needed (<see cref="VringError.IotlbMiss"/>).</summary>
    public ulong RingMissIova { get; private set; }
    public byte RingMissPerm { get; private set; }

    /// <summary>A ring area's frontend virtual address: the address itself, or (IOMMU) its IOTLB translation.</summary>
    private VringError AreaToUser(Iommu.IotlbCache? iotlb, ulong addr, ulong len, byte perm, out ulong user)
    {
        if (iotlb == null)
        {
            user = addr;
            return VringError.None;
        }
        switch (iotlb.Translate(addr, len, perm, out user, out ulong miss))
        {
            case Iommu.IotlbLookup.Hit:
                return VringError.None;
            case Iommu.IotlbLookup.Miss:
                RingMissIova = miss;
                RingMissPerm = perm;
                return VringError.IotlbMiss;
            default:
                return VringError.IotlbNotMapped;
        }
    }

    /// <summary>Forgets the translated pointers (memory table gone or ring stopped).</summary>
    public void Invalidate(in VringLockScope held)
    {
        Debug.Assert(held.Covers(this));
        Desc = null;
        Avail = null;
        Used = null;
        UsedGuestPhysAddr = 0;
        DescGuestPhysAddr = 0;
    }

    /// <summary>Split ring: the guest's avail index (acquire: ring entries are read after it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort ReadAvailIdx() => Volatile.Read(ref *(ushort*)(Avail + SplitRingLayout.AvailIdxOffset));

    /// <summary>Base index as GET_VRING_BASE reports it: split free-running index, packed idx | wrap&lt;&lt;15.</summary>
    public uint BaseForReport() =>
        IsPacked ? (uint)(LastAvailIdx & 0x7FFF) | (AvailWrapCounter ? 0x8000u : 0) : LastAvailIdx;

    /// <summary>Applies SET_VRING_BASE. Packed: bits 0-14 index, bit 15 wrap counter (used side starts equal).</summary>
    public VringError SetBase(uint num, bool packed, in VringLockScope held)
    {
        Debug.Assert(held.Covers(this));
        if (packed)
        {
            if ((num & 0x7FFF) >= (Size == 0 ? PackedRingLayout.MaxSize : Size)) return VringError.BadBaseIndex;
            LastAvailIdx = (ushort)(num & 0x7FFF);
            AvailWrapCounter = (num & 0x8000) != 0;
            LastUsedIdx = LastAvailIdx;
            UsedWrapCounter = AvailWrapCounter;
            if (BrokenReason == VringError.PositionOutsideRing) BrokenReason = VringError.None;
        }
        else
        {
            if (num > ushort.MaxValue) return VringError.BadBaseIndex;
            LastAvailIdx = (ushort)num;
            LastUsedIdx = (ushort)num;
        }
        ResetDatapath(held);
        return VringError.None;
    }

    /// <summary>
    /// rte_vhost_set_vring_base: <see cref="SetBase(uint, bool, in VringLockScope)"/> with the avail side, then the
    /// used side on its own (packed: bits 0-14 index, bit 15 wrap counter). A used index past a packed ring's end is
    /// refused after the avail side was applied.
    /// </summary>
    public VringError SetBase(ushort lastAvailIdx, ushort lastUsedIdx, bool packed, in VringLockScope held)
    {
        VringError e = SetBase(lastAvailIdx, packed, held);
        if (e != VringError.None) return e;
        if (packed && (lastUsedIdx & 0x7FFF) >= Size) return VringError.BadBaseIndex;
        LastUsedIdx = packed ? (ushort)(lastUsedIdx & 0x7FFF) : lastUsedIdx;
        if (packed) UsedWrapCounter = (lastUsedIdx & 0x8000) != 0;
        return VringError.None;
    }

    /// <summary>SET_VRING_NUM: the new size. The caller translates the ring again (<see cref="VhostDevice.TranslateLocked"/>).</summary>
    public void SetNum(uint num, in VringLockScope held)
    {
        Debug.Assert(held.Covers(this));
        Size = num;
    }

    /// <summary>
    /// SET_VRING_ADDR: the ring addresses, its log address and flags, marked set. The caller translates the ring
    /// again (<see cref="VhostDevice.TranslateLocked"/>) and calls <see cref="UnsetAddresses"/> when that fails.
    /// </summary>
    public void SetAddresses(ulong desc, ulong avail, ulong used, ulong log, uint flags, in VringLockScope held)
    {
        Debug.Assert(held.Covers(this));
        DescUserAddr = desc;
        AvailUserAddr = avail;
        UsedUserAddr = used;
        LogGuestAddr = log;
        LogGuestPhysAddr = log;
        AddrFlags = flags;
        AddrSet = true;
    }

    /// <summary>Takes refused addresses back: the ring has none (the values stay for diagnostics) and no pointers.</summary>
    public void UnsetAddresses(in VringLockScope held)
    {
        AddrSet = false;
        Invalidate(held);
    }

    /// <summary>SET_VRING_ENABLE (or a kick without VHOST_USER_F_PROTOCOL_FEATURES, or a stop).</summary>
    public void SetEnabled(bool enabled, in VringLockScope held)
    {
        Debug.Assert(held.Covers(this));
        Enabled = enabled;
    }

    /// <summary>SET_VRING_KICK: the kick eventfd (or <see cref="FdNone"/>/<see cref="FdUninitialized"/>). Returns
    /// the fd it replaces, which the caller closes if it owns it.</summary>
    public int SetKickFd(int fd, in VringLockScope held) => SwapFd(ref _kickFd, fd, held);

    /// <summary>SET_VRING_CALL: the call eventfd; returns the fd it replaces (see <see cref="SetKickFd"/>).</summary>
    public int SetCallFd(int fd, in VringLockScope held) => SwapFd(ref _callFd, fd, held);

    /// <summary>SET_VRING_ERR: the error eventfd; returns the fd it replaces (see <see cref="SetKickFd"/>).</summary>
    public int SetErrFd(int fd, in VringLockScope held) => SwapFd(ref _errFd, fd, held);

    private int SwapFd(ref int slot, int fd, in VringLockScope held)
    {
        Debug.Assert(held.Covers(this));
        int old = slot;
        slot = fd;
        return old;
    }

    /// <summary>Marks the ring broken for <paramref name="reason"/>, or repairs it (<see cref="VringError.None"/>).</summary>
    public void SetBrokenReason(VringError reason, in VringLockScope held)
    {
        Debug.Assert(held.Covers(this));
        BrokenReason = reason;
    }

    /// <summary>Back to the state of a fresh vring (RESET_OWNER / RESET_DEVICE / disconnect). Does not close fds.</summary>
    public void ResetState(in VringLockScope held)
    {
        Debug.Assert(held.Covers(this));
        Size = 0;
        DescUserAddr = AvailUserAddr = UsedUserAddr = LogGuestAddr = LogGuestPhysAddr = 0;
        AddrFlags = 0;
        AddrSet = false;
        Enabled = false;
        Invalidate(held);
        LastAvailIdx = LastUsedIdx = 0;
        AvailWrapCounter = UsedWrapCounter = true;
        BrokenReason = VringError.None;
        ReportedReady = false;
        GuestKicksWanted = false;
        ResetDatapath(held);
    }
}
