using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

// Bringing a virtio-net device up and down, in the order QEMU and DPDK's virtio-user use.
public sealed partial class VhostUserFrontend
{
    private const byte StatusFeaturesOk = DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk;
    private const byte StatusRunning = StatusFeaturesOk | DeviceStatus.DriverOk;

    private NetDeviceOptions _options = NetDeviceOptions.Default;
    private ulong _plannedFeatures;
    private bool _negotiated;

    /// <summary>Queue pairs negotiated by <see cref="Negotiate"/>.</summary>
    public int QueuePairs { get; private set; }

    /// <summary>True when the device uses packed rings.</summary>
    public bool Packed { get; private set; }

    /// <summary>GET_QUEUE_NUM's answer (1 when MQ was not negotiated).</summary>
    public ulong MaxQueuePairs { get; private set; } = 1;

    /// <summary>GET_MAX_MEM_SLOTS's answer, or null when CONFIGURE_MEM_SLOTS was not negotiated.</summary>
    public ulong? MaxMemSlots { get; private set; }

    /// <summary>True between <see cref="StartDevice"/> and <see cref="Stop"/>.</summary>
    public bool Started { get; private set; }

    /// <summary>The negotiated protocol feature <paramref name="bit"/>.</summary>
    public bool HasProtocolFeature(int bit) => ProtocolFeaturesNegotiated && ProtocolFeatures.Has(AckedProtocolFeatures, bit);

    /// <summary>
    /// The whole bring-up of a net device: <see cref="Negotiate"/> then <see cref="StartDevice"/>. The number of
    /// queue pairs is half the number of <paramref name="rings"/>, and the rings say split or packed.
    /// </summary>
    public void Start(FrontendMemory memory, IReadOnlyList<IRingLayout> rings, NetDeviceOptions? options = null)
    {
        if (rings.Count == 0 || rings.Count % 2 != 0)
            throw new ArgumentException($"a net device has an RX and a TX ring per queue pair; got {rings.Count} rings", nameof(rings));
        Negotiate(rings.Count / 2, rings[0].Packed, options);
        StartDevice(memory, rings);
    }

    /// <summary>
    /// Session setup, as QEMU's vhost_user_backend_init does it: SET_OWNER, GET_FEATURES, GET/SET_PROTOCOL_FEATURES
    /// (when the backend offers bit 30), GET_QUEUE_NUM (MQ), GET_MAX_MEM_SLOTS (CONFIGURE_MEM_SLOTS) and, when asked,
    /// SET_BACKEND_REQ_FD. Works out the virtio features to ack and fails early when the backend cannot carry
    /// <paramref name="queuePairs"/> or the ring layout.
    /// </summary>
    public void Negotiate(int queuePairs, bool packed, NetDeviceOptions? options = null)
    {
        if (queuePairs < 1 || 2 * queuePairs - 1 > MaxFdVringIndex)
            throw new ArgumentOutOfRangeException(nameof(queuePairs), $"1..{(MaxFdVringIndex + 1) / 2} queue pairs");
        _options = options ?? NetDeviceOptions.Default;

        SetOwner();
        ulong offered = GetFeatures();
        if (VirtioFeatures.Has(offered, VirtioFeatures.ProtocolFeatures))
        {
            ulong offeredProtocol = GetProtocolFeatures();
            ulong wanted = _options.WantedProtocolFeatures | (queuePairs > 1 ? ProtocolFeatures.Bit(ProtocolFeatures.Mq) : 0);
            SetProtocolFeatures(offeredProtocol & wanted);
        }

        MaxQueuePairs = 1;
        if (HasProtocolFeature(ProtocolFeatures.Mq)) MaxQueuePairs = GetQueueNum();
        if ((ulong)queuePairs > MaxQueuePairs)
            throw new NotSupportedException(HasProtocolFeature(ProtocolFeatures.Mq)
                ? $"{Peer} supports {MaxQueuePairs} queue pairs (GET_QUEUE_NUM); {queuePairs} were asked for"
                : $"{Peer} does not offer protocol feature MQ, needed for {queuePairs} queue pairs");

        MaxMemSlots = HasProtocolFeature(ProtocolFeatures.ConfigureMemSlots) ? GetMaxMemSlots() : null;

        if (_options.BackendChannel)
        {
            if (!HasProtocolFeature(ProtocolFeatures.BackendReq))
                throw new NotSupportedException($"{Peer} does not offer protocol feature BACKEND_REQ; no backend-request channel");
            SetBackendReqFd();
        }

        _plannedFeatures = PlanFeatures(offered, queuePairs, packed);
        QueuePairs = queuePairs;
        Packed = packed;
        _negotiated = true;
    }

    private ulong PlanFeatures(ulong offered, int queuePairs, bool packed)
    {
        ulong required = (packed ? VirtioFeatures.Bit(VirtioFeatures.RingPacked) | VirtioFeatures.Bit(VirtioFeatures.Version1) : 0)
                         | (queuePairs > 1 ? VirtioFeatures.Bit(VirtioFeatures.NetMq) : 0);
        if ((required & ~offered) != 0)
            throw new NotSupportedException(
                $"{Peer} does not offer {VirtioFeatures.Describe(required & ~offered)}, needed for " +
                $"{(packed ? "packed" : "split")} rings and {queuePairs} queue pair(s)");
        if (_options.Iommu && !VirtioFeatures.Has(offered, VirtioFeatures.AccessPlatform))
            throw new NotSupportedException($"{Peer} does not offer ACCESS_PLATFORM (IOMMU_PLATFORM), needed for IOTLB mode");
        ulong wanted = (_options.WantedFeatures & ~VirtioFeatures.Bit(VirtioFeatures.RingPacked)) | required
                       | VirtioFeatures.Bit(VirtioFeatures.ProtocolFeatures)
                       | (_options.Iommu ? VirtioFeatures.Bit(VirtioFeatures.AccessPlatform) : 0);
        return wanted & offered;
    }

    /// <summary>
    /// Device start, in DPDK virtio-user's order: SET_VRING_CALL per vring, SET_FEATURES, SET_STATUS FEATURES_OK
    /// (checked back with GET_STATUS, as the virtio spec asks the driver to), SET_MEM_TABLE, then per vring
    /// SET_VRING_NUM/BASE/ADDR/KICK, SET_VRING_ENABLE, and SET_STATUS DRIVER_OK. The STATUS and ENABLE steps happen
    /// only when negotiated. Creates the vrings' eventfds on first use and reuses them on a restart.
    /// </summary>
    public void StartDevice(FrontendMemory memory, IReadOnlyList<IRingLayout> rings)
    {
        if (!_negotiated) throw new InvalidOperationException("StartDevice before Negotiate");
        if (rings.Count != 2 * QueuePairs)
            throw new ArgumentException($"negotiated {QueuePairs} queue pair(s), i.e. {2 * QueuePairs} rings; got {rings.Count}", nameof(rings));
        if (rings.Any(r => r.Packed != Packed))
            throw new ArgumentException($"negotiated {(Packed ? "packed" : "split")} rings; every ring must be that layout", nameof(rings));
        ulong slots = MaxMemSlots is { } s ? Math.Min(s, MemTableMaxRegions) : MemTableMaxRegions;
        if ((ulong)memory.Regions.Count > slots)
            throw new ArgumentException($"{memory.Regions.Count} memory regions; {Peer} takes {slots} in one SET_MEM_TABLE", nameof(memory));

        EnsureNotifiers(rings.Count);
        for (uint i = 0; i < rings.Count; i++)
        {
            SetVringCall(i, _notifiers[(int)i].CallFd);
            if (_options.ErrorFds) SetVringErr(i, _notifiers[(int)i].ErrFd);
        }

        SetFeatures(_plannedFeatures);
        bool status = HasProtocolFeature(ProtocolFeatures.Status);
        if (status)
        {
            SetStatus(StatusFeaturesOk);
            byte now = GetStatus();
            if ((now & DeviceStatus.FeaturesOk) == 0)
                throw new NotSupportedException(
                    $"{Peer} cleared FEATURES_OK (status 0x{now:x2}): it refused features {VirtioFeatures.Describe(_plannedFeatures)}");
        }

        SetUpInflight(rings);
        SetMemTable(memory);
        for (uint i = 0; i < rings.Count; i++)
        {
            IRingLayout ring = rings[(int)i];
            SetVringNum(i, ring.Size);
            SetVringBase(i, ring.BaseIndex);
            if (_options.Iommu) SetVringAddr(FrontendPayloads.VringAddrIova(i, ring, iovaOffset: _options.IovaOffset));
            else SetVringAddr(i, ring, memory);
            SetVringKick(i, _notifiers[(int)i].KickFd);
        }
        if (VirtioHasProtocolFeaturesBit)
            for (uint i = 0; i < rings.Count; i++) SetVringEnable(i, true);
        if (status) SetStatus(StatusRunning);
        Started = true;
    }

    private void EnsureNotifiers(int count)
    {
        if (_notifiers.Count == count && _notifiers.All(n => (n.ErrFd >= 0) == _options.ErrorFds)) return;
        DisposeNotifiers();
        for (uint i = 0; i < count; i++) _notifiers.Add(new VringNotifier(i, _options.ErrorFds));
    }

    /// <summary>
    /// Device stop, in QEMU's order (vhost_dev_stop): SET_STATUS 0, SET_VRING_ENABLE 0 per vring, then
    /// GET_VRING_BASE per vring. Returns each vring's base (index = vring) for a later restart.
    /// </summary>
    public uint[] Stop()
    {
        if (!_negotiated) throw new InvalidOperationException("Stop before Negotiate");
        int count = 2 * QueuePairs;
        if (HasProtocolFeature(ProtocolFeatures.Status)) SetStatus(0);
        if (VirtioHasProtocolFeaturesBit)
            for (uint i = 0; i < count; i++) SetVringEnable(i, false);
        var bases = new uint[count];
        for (uint i = 0; i < count; i++) bases[i] = GetVringBase(i);
        Started = false;
        return bases;
    }
}
