using HotPath.Engine.Interop;
using HotPath.Engine.Vrings;
using HotPath.Engine.Virtio;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Control;

/// <summary>Readiness, device start/stop and the per-connection state outside the engine device.</summary>
public sealed unsafe partial class VhostSession
{
    /// <summary>Virtio-net config space (struct virtio_net_config), served by GET_CONFIG.</summary>
    private readonly byte[] _config = new byte[ConfigPayload.ConfigSpaceMax];

    /// <summary>MTU from NET_SET_MTU (0 when never set).</summary>
    public ushort Mtu { get; internal set; }

    /// <summary>MAC from SEND_RARP (the guest's address after a migration).</summary>
    public byte[]? RarpMac { get; internal set; }

    /// <summary>The backend request channel (SET_BACKEND_REQ_FD), or null.</summary>
    public BackendRequestChannel? BackendChannel { get; private set; }

    /// <summary>Installs a new backend request channel on <paramref name="fd"/> (owned from now on), closing the previous one.</summary>
    internal void SetBackendChannel(int fd)
    {
        BackendRequestChannel? old = BackendChannel;
        BackendChannel = new BackendRequestChannel(fd);
        old?.Dispose();
    }

    /// <summary>Fd from SET_LOG_FD (log sync eventfd), or -1.</summary>
    internal int LogFd { get; set; } = -1;

    /// <summary>
    /// Regions REM_MEM_REG removed and no ADD_MEM_REG brought back (at most one slot's worth each): a repeated
    /// REM_MEM_REG of one of them is a no-op (MemoryHandlers: QEMU before 8.0 sends one per queue pair).
    /// </summary>
    internal List<HotPath.Engine.Memory.RegionDescriptor> RemovedRegions { get; } = new();

    internal Span<byte> ConfigSpace => _config;

    internal void SetProtocolFeatures(ulong value) => ProtocolFeatures = value;

    internal void SetStatus(byte value) => Status = value;

    private void InitConfigSpace()
    {
        // struct virtio_net_config: mac[6], status, max_virtqueue_pairs, mtu (little-endian on x86).
        const ushort linkUp = 1;
        BitConverter.TryWriteBytes(_config.AsSpan(6), linkUp);
        BitConverter.TryWriteBytes(_config.AsSpan(8), (ushort)Driver.MaxQueuePairs);
        BitConverter.TryWriteBytes(_config.AsSpan(10), (ushort)1500);
    }

    /// <summary>Number of vrings that must be ready: 2 for the built-in net device, all of them otherwise (DPDK).</summary>
    private int RequiredVrings => Driver.BuiltinNet ? 2 : Math.Max(1, Device.VringCount);

    /// <summary>DPDK's virtio_is_ready: the first vrings ready, and DRIVER_OK when STATUS was negotiated.</summary>
    public bool IsDeviceReady
    {
        get
        {
            int need = RequiredVrings;
            if (Device.VringCount < need) return false;
            for (int i = 0; i < need; i++)
                if (Device.GetVring(i) is not { IsReady: true }) return false;
            if (Wire.ProtocolFeatures.Has(ProtocolFeatures, Wire.ProtocolFeatures.Status) &&
                (Status & DeviceStatus.DriverOk) == 0) return false;
            return true;
        }
    }

    /// <summary>
    /// After every message: report each vring whose readiness changed (vring_state_changed), then start the device
    /// (new_device) once it is ready. Runs without vring locks so callbacks may call back into the API.
    /// </summary>
    internal void UpdateReadiness()
    {
        foreach (Vring v in Device.Vrings)
        {
            bool ready = v.IsReady;
            if (ready == v.ReportedReady) continue;
            v.ReportedReady = ready;
            int index = v.Index;
            Driver.Callback(ops => ops.VringStateChanged(Vid, (ushort)index, ready), "vring_state_changed");
            if (IsClosed) return;
        }
        if (IsRunning || !IsDeviceReady) return;
        int rc = Driver.Callback(ops => ops.NewDevice(Vid), "new_device");
        if (IsClosed) return;
        if (rc == 0)
        {
            IsRunning = true;
            Log(LogLevel.Info, $"device ready: features {VirtioFeatures.Describe(Device.Features)}, " +
                $"protocol {Wire.ProtocolFeatures.Describe(ProtocolFeatures)}, {Device.VringCount} vrings");
        }
        else
        {
            ControlCounters.CountRefused(ControlError.CallbackRefused);
            Log(LogLevel.Warning, $"new_device returned {rc}; will retry after the next message");
        }
    }

    /// <summary>Stops a running device (destroy_device) before its rings or memory change under it.</summary>
    internal void StopDevice()
    {
        if (!IsRunning) return;
        IsRunning = false;
        Driver.Callback(ops => { ops.DestroyDevice(Vid); return 0; }, "destroy_device");
    }

    /// <summary>Closes a vring's eventfds and marks them not received (not the rest of the vring state).</summary>
    internal static void CloseVringFds(Vring v, in VringLockScope held)
    {
        CloseFd(v.SetKickFd(Vring.FdUninitialized, held));
        CloseFd(v.SetCallFd(Vring.FdUninitialized, held));
        CloseFd(v.SetErrFd(Vring.FdUninitialized, held));
    }

    /// <summary>Closes an fd a vring gave up (<see cref="Vring.FdNone"/> and <see cref="Vring.FdUninitialized"/> are none).</summary>
    internal static void CloseFd(int fd)
    {
        if (fd >= 0) LibC.close(fd);
    }

    /// <summary>RESET_OWNER / RESET_DEVICE: stop, forget features and ring state, keep the connection.</summary>
    internal void ResetDevice()
    {
        EndPostcopy();
        StopDevice();
        using (DeviceLockScope all = Device.HoldAll())
        {
            foreach (Vring v in Device.Vrings) CloseVringFds(v, all.For(v));
        }
        Device.ResetRings();
        Device.SetInflight(null);   // as DPDK's reset: the region and its fd are released
        Device.Crypto?.Sessions.CloseAll();   // the guest's sessions die with its driver: none outlives a reset
        ProtocolFeatures = 0;
        Status = 0;
    }

    /// <summary>Releases everything the connection holds besides the engine device (which disposes its memory).</summary>
    private void TearDownState()
    {
        using (DeviceLockScope all = Device.HoldAll())
        {
            foreach (Vring v in Device.Vrings) CloseVringFds(v, all.For(v));
        }
        Device.SetLog(null);
        Device.SetInflight(null);
        BackendChannel?.Dispose();
        BackendChannel = null;
        int fd = LogFd;
        if (fd >= 0) LibC.close(fd);
        LogFd = -1;
    }
}
