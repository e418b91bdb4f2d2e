using HotPath.Engine;
using HotPath.Engine.Virtio;

namespace HotPath.Protocol.Control;

/// <summary>
/// One registered vhost-user socket path (rte_vhost_driver_*): its flags, the features it offers, its callbacks,
/// and its connections. In server mode it listens and serves one device per accepted connection; in client mode
/// it connects to the frontend's socket, retries until the frontend appears, and reconnects after a disconnect
/// unless <see cref="VhostDriverFlags.NoReconnect"/> is set. All socket work happens on the control-plane thread.
/// </summary>
public sealed partial class VhostDriver
{
    private static readonly Dictionary<string, VhostDriver> s_drivers = new(StringComparer.Ordinal);
    private static readonly object s_registryLock = new();

    private readonly object _lock = new();
    private ulong _supportedFeatures;
    private ulong _features;
    private ulong _protocolFeatures;
    private uint _maxQueuePairs = VhostDevice.MaxQueuePairs;
    private bool _unregistered;

    public string Path { get; }
    public VhostDriverFlags Flags { get; }
    public bool IsClient => (Flags & VhostDriverFlags.Client) != 0;
    public bool Reconnects => IsClient && (Flags & VhostDriverFlags.NoReconnect) == 0;

    /// <summary>Device lifecycle callbacks (null: none registered).</summary>
    public IVhostDeviceOps? Ops { get; private set; }

    /// <summary>guest_notify / guest_notified, handed to every device of this driver.</summary>
    public IGuestNotifyHook? NotifyHook { get; private set; }

    /// <summary>
    /// True until the application sets its own feature bits: the built-in virtio-net device, where only the first
    /// queue pair must be ready for new_device (DPDK's use_builtin_virtio_net).
    /// </summary>
    public bool BuiltinNet { get; private set; } = true;

    public bool IsStarted { get; private set; }

    /// <summary>
    /// Whether guest memory whose fd cannot be sealed against shrinking is refused. Every region fd that can be
    /// sealed (a memfd: QEMU's memory-backend-memfd, HotPath's frontend) is sealed with F_SEAL_SHRINK before it is
    /// checked and mapped, so its frontend can never truncate it under the mapping. A hugetlbfs or tmpfs file, or a
    /// memfd made without MFD_ALLOW_SEALING, cannot be sealed: QEMU's memory-backend-file on hugepages and DPDK's
    /// virtio-user use exactly that memory, so by default it is mapped (as DPDK's backend does), logged as a warning and
    /// counted (<see cref="ControlCounters.UnsealedRegions"/>); a frontend that truncates such a file would kill the
    /// process with SIGBUS. A deployment whose frontends may be hostile turns this on
    /// (HP_VHOST_USER_REQUIRE_SEALED_MEMORY in the C API, or HOTPATH_REQUIRE_SEALED_MEMORY=1 for every driver):
    /// SET_MEM_TABLE and ADD_MEM_REG then refuse such fds (MemoryError.FdNotSealable).
    /// </summary>
    public bool RequireSealedMemory { get; set; }

    private VhostDriver(string path, VhostDriverFlags flags)
    {
        RequireSealedMemory = (flags & VhostDriverFlags.RequireSealedMemory) != 0 ||
            Environment.GetEnvironmentVariable("HOTPATH_REQUIRE_SEALED_MEMORY") == "1";
        Path = path;
        Flags = flags;
        ulong f = VirtioFeatures.NetSupported;
        // Linear buffers without external buffers cannot hold a large TSO/UFO frame from the guest (as DPDK).
        if ((flags & VhostDriverFlags.LinearbufSupport) != 0 && (flags & VhostDriverFlags.ExtbufSupport) == 0)
            f &= ~(VirtioFeatures.Bit(VirtioFeatures.NetHostTso4) | VirtioFeatures.Bit(VirtioFeatures.NetHostTso6) |
                   VirtioFeatures.Bit(VirtioFeatures.NetHostUfo) | VirtioFeatures.Bit(VirtioFeatures.NetHostEcn));
        // IOMMU_SUPPORT (as DPDK): offer VIRTIO_F_IOMMU_PLATFORM; ring addresses and buffers of split and packed rings
        // are then IOVAs translated through the device's IOTLB.
        if ((flags & VhostDriverFlags.IommuSupport) != 0) f |= VirtioFeatures.Bit(VirtioFeatures.AccessPlatform);
        _supportedFeatures = f;
        _features = f;
        _protocolFeatures = ImplementedProtocolFeatures;
    }

    /// <summary>Protocol features this driver can offer: PAGEFAULT only when registered with
    /// <see cref="VhostDriverFlags.PostcopySupport"/> (as DPDK: postcopy is the application's choice).</summary>
    private ulong ImplementedProtocolFeatures => Wire.ProtocolFeatures.Supported |
        ((Flags & VhostDriverFlags.PostcopySupport) != 0 ? Wire.ProtocolFeatures.Bit(Wire.ProtocolFeatures.Pagefault) : 0) |
        (CryptoEnabled ? Wire.ProtocolFeatures.Bit(Wire.ProtocolFeatures.CryptoSession) : 0);

    /// <summary>rte_vhost_driver_register: a new socket path with its flags.</summary>
    public static VhostDriver Register(string path, VhostDriverFlags flags)
    {
        if (string.IsNullOrEmpty(path)) throw new VhostException("socket path is empty");
        if (!Transport.SocketCalls.TryMakeAddress(path, out _, out _))
            throw new VhostException($"socket path is longer than {Transport.SocketCalls.SunPathMax - 1} bytes: {path}");
        if ((flags & ~VhostDriverFlags.Known) != 0)
            throw new VhostException($"unknown flags 0x{(ulong)(flags & ~VhostDriverFlags.Known):x}");
        lock (s_registryLock)
        {
            if (s_drivers.ContainsKey(path)) throw new VhostException($"{path} is already registered", HotPath.Engine.Interop.LibC.EEXIST);
            var d = new VhostDriver(path, flags);
            s_drivers[path] = d;
            return d;
        }
    }

    /// <summary>The driver registered for <paramref name="path"/>, or null.</summary>
    public static VhostDriver? Find(string path)
    {
        lock (s_registryLock) return s_drivers.GetValueOrDefault(path);
    }

    /// <summary>Offered virtio features (GET_FEATURES).</summary>
    public ulong Features
    {
        get { lock (_lock) return _features; }
    }

    /// <summary>Offered protocol features (GET_PROTOCOL_FEATURES).</summary>
    public ulong ProtocolFeatures
    {
        get { lock (_lock) return _protocolFeatures; }
    }

    /// <summary>Queue pairs offered (GET_QUEUE_NUM).</summary>
    public uint MaxQueuePairs
    {
        get { lock (_lock) return _maxQueuePairs; }
    }

    private void EnsureNotNegotiating(string what)
    {
        if (HasConnections)
            throw new VhostException($"{what} must be called before vhost-user negotiation starts ({Path} has a connection)", HotPath.Engine.Interop.LibC.EBUSY);
    }

    /// <summary>rte_vhost_driver_set_features: the application implements its own device with these bits.</summary>
    public void SetFeatures(ulong features)
    {
        lock (_lock)
        {
            EnsureNotNegotiating("set_features");
            _supportedFeatures = features;
            _features = features;
            BuiltinNet = false;
        }
    }

    /// <summary>rte_vhost_driver_enable_features: bits must be a subset of the supported set.</summary>
    public void EnableFeatures(ulong features)
    {
        lock (_lock)
        {
            EnsureNotNegotiating("enable_features");
            if ((features & ~_supportedFeatures) != 0)
                throw new VhostException($"features 0x{features & ~_supportedFeatures:x} are not supported: {VirtioFeatures.Describe(features & ~_supportedFeatures)}");
            _features |= features;
        }
    }

    /// <summary>rte_vhost_driver_disable_features.</summary>
    public void DisableFeatures(ulong features)
    {
        lock (_lock)
        {
            EnsureNotNegotiating("disable_features");
            _features &= ~features;
        }
    }

    /// <summary>rte_vhost_driver_set_protocol_features: only bits HotPath implements.</summary>
    public void SetProtocolFeatures(ulong features)
    {
        lock (_lock)
        {
            EnsureNotNegotiating("set_protocol_features");
            ulong unknown = features & ~ImplementedProtocolFeatures;
            if (unknown != 0)
                throw new VhostException($"protocol features 0x{unknown:x} are not implemented" +
                    ((Flags & VhostDriverFlags.PostcopySupport) == 0 ? " (PAGEFAULT needs the postcopy flag)" : "") +
                    $": {Wire.ProtocolFeatures.Describe(unknown)}");
            _protocolFeatures = features;
        }
    }

    /// <summary>A virtio-crypto device (<see cref="EnableCrypto"/>): every connection gets a session table.</summary>
    public bool CryptoEnabled { get; private set; }

    /// <summary>Most sessions one crypto device may hold open at once.</summary>
    public int MaxCryptoSessions { get; private set; } = HotPath.Engine.Crypto.CryptoSessionTable.DefaultCapacity;

    /// <summary>
    /// Serve a virtio-crypto device (DPDK's rte_vhost_crypto_driver_start plus rte_vhost_crypto_create, done once per
    /// driver instead of per vid in new_device): offers the virtio-crypto feature set and protocol feature
    /// CRYPTO_SESSION, and gives every connection a <see cref="HotPath.Engine.Crypto.VhostCrypto"/> (reached through
    /// <c>session.Device.Crypto</c>) from the moment it is accepted, so no session message can find a device without
    /// one. Only a driver enabled here offers CRYPTO_SESSION; for any other, CREATE/CLOSE_CRYPTO_SESSION are refused as
    /// not negotiated. Call before <see cref="Start"/>.
    /// </summary>
    public void EnableCrypto(int maxSessions = HotPath.Engine.Crypto.CryptoSessionTable.DefaultCapacity)
    {
        if (maxSessions < 1 || maxSessions > 65536)
            throw new VhostException($"max crypto sessions {maxSessions} is outside 1..65536");
        lock (_lock)
        {
            EnsureNotNegotiating("crypto_create");
            _supportedFeatures = _features = VirtioFeatures.CryptoSupported;
            BuiltinNet = false;
            CryptoEnabled = true;
            MaxCryptoSessions = maxSessions;
            _protocolFeatures |= Wire.ProtocolFeatures.Bit(Wire.ProtocolFeatures.CryptoSession);
            // Not STATUS: QEMU's cryptodev-vhost-user (7.2) negotiates it but never sends DRIVER_OK (its vhost_dev has
            // no vq_index_end, so vhost_user_dev_start never sees "the last queue"), and the device would never start.
            _protocolFeatures &= ~Wire.ProtocolFeatures.Bit(Wire.ProtocolFeatures.Status);
        }
    }

    /// <summary>rte_vhost_driver_set_max_queue_num.</summary>
    public void SetMaxQueuePairs(uint pairs)
    {
        if (pairs == 0 || pairs > VhostDevice.MaxQueuePairs)
            throw new VhostException($"max queue pairs {pairs} is outside 1..{VhostDevice.MaxQueuePairs}");
        lock (_lock)
        {
            EnsureNotNegotiating("set_max_queue_num");
            _maxQueuePairs = pairs;
        }
    }

    /// <summary>rte_vhost_driver_callback_register.</summary>
    public void RegisterCallbacks(IVhostDeviceOps? ops, IGuestNotifyHook? notify = null)
    {
        lock (_lock)
        {
            Ops = ops;
            NotifyHook = notify;
        }
    }

    /// <summary>
    /// Runs an application callback on the control-plane thread. A callback that throws is logged and reads as -1;
    /// it never leaves the session half-updated because callers change their state before or after, not around it.
    /// </summary>
    internal int Callback(Func<IVhostDeviceOps, int> call, string name)
    {
        IVhostDeviceOps? ops = Ops;
        if (ops == null) return 0;
        try
        {
            return call(ops);
        }
        catch (Exception e)
        {
            ControlLog.Write(LogLevel.Error, Path, $"{name} callback threw {e.GetType().Name}: {e.Message}");
            return -1;
        }
    }

    /// <summary>rte_vhost_driver_unregister: stop listening/reconnecting and close every connection.</summary>
    public void Unregister()
    {
        lock (s_registryLock)
        {
            if (!s_drivers.TryGetValue(Path, out VhostDriver? d) || d != this)
                throw new VhostException($"{Path} is not registered", HotPath.Engine.Interop.LibC.ENOENT);
            s_drivers.Remove(Path);
        }
        EventLoop.Shared.Invoke(() =>
        {
            _unregistered = true;
            StopServingTakeovers();
            StopListening();
            foreach (VhostSession s in Sessions.ToArray()) s.Close("driver unregistered");
            return 0;
        });
    }

    /// <summary>Open connections of this driver.</summary>
    public IReadOnlyList<VhostSession> Sessions
    {
        get { lock (_lock) return _sessions.ToArray(); }
    }

    public bool HasConnections
    {
        get { lock (_lock) return _sessions.Count > 0; }
    }
}
