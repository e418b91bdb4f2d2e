using HotPath.Engine.Memory;
using HotPath.Engine.Vrings;

namespace HotPath.Engine;

/// <summary>
/// The engine's view of one vhost device (one frontend connection): negotiated features, the guest memory table
/// and the vrings. The control plane configures it; application threads run bursts on its queues. Datapath
/// entry points live in partial files beside this one (one per ring type and direction).
/// </summary>
public sealed unsafe partial class VhostDevice : IDisposable
{
    /// <summary>Queue pairs per device, as DPDK's VHOST_MAX_QUEUE_PAIRS.</summary>
    public const int MaxQueuePairs = 128;
    public const int MaxVrings = 2 * MaxQueuePairs;

    private readonly Vring?[] _vrings = new Vring?[MaxVrings];
    private readonly List<MappedRegion> _regions = new();

    /// <summary>The device id the control plane gave this connection (-1 when not registered).</summary>
    public int Vid { get; set; } = -1;

    /// <summary>
    /// Application hook for guest notifications (the device ops' guest_notify / guest_notified). Null when the
    /// application registered neither: the datapath then writes the call eventfd itself.
    /// </summary>
    public IGuestNotifyHook? NotifyHook { get; set; }

    /// <summary>Per-vring statistics are collected only when the driver was registered with NET_STATS_ENABLE.</summary>
    public bool StatsEnabled { get; set; }

    /// <summary>Negotiated virtio features (SET_FEATURES).</summary>
    public ulong Features { get; private set; }

    /// <summary>The current guest memory table, or null before the first SET_MEM_TABLE.</summary>
    public GuestMemory? Memory { get; private set; }

    /// <summary>One more than the highest vring index the frontend has touched.</summary>
    public int VringCount { get; private set; }

    public bool IsPacked => VirtioFeatures.Has(Features, VirtioFeatures.RingPacked);

    /// <summary>virtio-net header length for the negotiated features (10 or 12).</summary>
    public int NetHeaderSize => VirtioNetHeader.SizeFor(Features);

    /// <summary>The vring at <paramref name="index"/>, created on first use; null when out of range.</summary>
    public Vring? GetOrCreateVring(uint index)
    {
        if (index >= MaxVrings) return null;
        Vring? v = _vrings[index];
        if (v == null)
        {
            v = new Vring((int)index);
            _vrings[index] = v;
            if (index + 1 > VringCount) VringCount = (int)index + 1;
        }
        return v;
    }

    /// <summary>The vring at <paramref name="index"/> if it exists.</summary>
    public Vring? GetVring(int index) => (uint)index < MaxVrings ? _vrings[index] : null;

    /// <summary>Every vring created so far, in index order.</summary>
    public IEnumerable<Vring> Vrings
    {
        get
        {
            for (int i = 0; i < VringCount; i++)
                if (_vrings[i] is { } v) yield return v;
        }
    }

    /// <summary>
    /// Takes every vring's access lock: no burst runs until the scope's Dispose. Rings with an async queue are then
    /// settled (as <see cref="Vring.Hold"/>): no copy is in flight while the caller changes memory or rings.
    /// </summary>
    public DeviceLockScope HoldAll()
    {
        for (int i = 0; i < VringCount; i++) _vrings[i]?.AccessLock.Enter();
        for (int i = 0; i < VringCount; i++) _vrings[i]?.Async?.Settle();
        return new DeviceLockScope(this);
    }

    internal void UnlockAll()
    {
        for (int i = 0; i < VringCount; i++) _vrings[i]?.AccessLock.Exit();
    }

    /// <summary>Sets the negotiated features and re-translates the rings when the ring layout changed.</summary>
    public void SetFeatures(ulong features)
    {
        const ulong retranslate = (1UL << VirtioFeatures.RingPacked) | (1UL << VirtioFeatures.AccessPlatform);
        bool layoutChanged = ((Features ^ features) & retranslate) != 0;
        Iommu.IotlbViews? oldViews;
        using (DeviceLockScope all = HoldAll())
        {
            Features = features;
            oldViews = RefreshIotlbLocked(all, translate: false);
            if (layoutChanged) TranslateAllLocked(all);
            RefreshColdAllLocked();
        }
        oldViews?.Dispose();
    }

    /// <summary>
    /// Replaces the memory table with <paramref name="regions"/>. Regions of the old table that are not in the new
    /// one are unmapped (and their fds closed) after the swap. Runs with every vring lock held, so no burst sees a
    /// half-updated table. On failure nothing changes and the caller still owns the new regions.
    /// </summary>
    public MemoryError ReplaceMemory(IReadOnlyList<MappedRegion> regions)
    {
        MemoryError e = GuestMemory.TryCreate(regions, out GuestMemory? table);
        if (e != MemoryError.None) return e;
        GuestMemory? old;
        Iommu.IotlbViews? oldViews;
        using (DeviceLockScope all = HoldAll())
        {
            old = Memory;
            Memory = table;
            FlushIotlbLocked();
            oldViews = RefreshIotlbLocked(all, translate: true);
        }
        oldViews?.Dispose();
        old?.Dispose();
        var keep = new HashSet<MappedRegion>(regions);
        foreach (MappedRegion r in _regions)
            if (!keep.Contains(r)) r.Dispose();
        _regions.Clear();
        _regions.AddRange(regions);
        return MemoryError.None;
    }

    /// <summary>The regions of the current table (owned by the device).</summary>
    public IReadOnlyList<MappedRegion> Regions => _regions;

    /// <summary>Drops the memory table and unmaps every region.</summary>
    public void ClearMemory()
    {
        GuestMemory? old;
        Iommu.IotlbViews? oldViews;
        using (DeviceLockScope all = HoldAll())
        {
            old = Memory;
            Memory = null;
            FlushIotlbLocked();
            oldViews = RefreshIotlbLocked(all, translate: false);
            for (int i = 0; i < VringCount; i++)
                if (_vrings[i] is { } v) v.Invalidate(all.For(v));
        }
        oldViews?.Dispose();
        old?.Dispose();
        foreach (MappedRegion r in _regions) r.Dispose();
        _regions.Clear();
    }

    /// <summary>Re-translates one vring's addresses (<paramref name="held"/>: its access lock).</summary>
    public VringError TranslateLocked(Vring v, in VringLockScope held)
    {
        VringError e = AfterTranslate(v, v.Translate(Memory, IsPacked, held, IotlbActive ? Iotlb : null));
        RefreshColdLocked(v);
        return e;
    }

    private void TranslateAllLocked(in DeviceLockScope all)
    {
        for (int i = 0; i < VringCount; i++)
        {
            Vring? v = _vrings[i];
            if (v == null) continue;
            VringLockScope held = all.For(v);
            VringError e = AfterTranslate(v, v.Translate(Memory, IsPacked, held, IotlbActive ? Iotlb : null));
            // Under the IOTLB a ring mapped without the access it needs waits (untranslated) for a better update.
            if (e != VringError.None && e != VringError.IotlbNotMapped) v.SetBrokenReason(e, held);
            RefreshColdLocked(v);
        }
    }

    /// <summary>Back to a fresh device (RESET_OWNER, RESET_DEVICE): features cleared, rings reset, memory kept.</summary>
    public void ResetRings()
    {
        Iommu.IotlbViews? oldViews;
        using (DeviceLockScope all = HoldAll())
        {
            Features = 0;
            FlushIotlbLocked();
            oldViews = RefreshIotlbLocked(all, translate: false);
            for (int i = 0; i < VringCount; i++)
                if (_vrings[i] is { } v) v.ResetState(all.For(v));
            RefreshColdAllLocked();
        }
        oldViews?.Dispose();
    }

    public void Dispose()
    {
        Crypto?.Dispose();
        SetLog(null);
        SetInflight(null);
        ClearMemory();
        Iommu.IotlbViews? views;
        using (HoldAll())
        {
            views = IotlbViews;
            IotlbViews = null;
        }
        views?.Dispose();
        ReleaseDatapath();
    }
}
