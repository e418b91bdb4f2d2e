using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// One virtio-net queue pair on HotPath's frontend: memfd guest memory, split RX (vring 0) and TX (vring 1) ring
/// drivers for <see cref="NetDeviceOptions.DefaultFeatures"/> without indirect tables, and the vhost-user connection
/// that hands them to the backend. hp-frontend's traffic device, the tests' echo device and the fuzz loop device
/// build on it. <see cref="Dispose"/> closes the connection, the drivers and the memory; it does not stop the device.
/// </summary>
public sealed class SplitNetDevice : IDisposable
{
    /// <summary>The features the drivers are built for and the frontend asks for.</summary>
    public static readonly ulong Features = NetDeviceOptions.DefaultFeatures;

    public FrontendMemory Memory { get; }
    public SplitRingDriver Rx { get; }
    public SplitRingDriver Tx { get; }
    public VhostUserFrontend Frontend { get; }

    private SplitNetDevice(FrontendMemory memory, SplitRingDriver rx, SplitRingDriver tx, VhostUserFrontend frontend)
    {
        Memory = memory;
        Rx = rx;
        Tx = tx;
        Frontend = frontend;
    }

    /// <summary>
    /// Allocates <paramref name="memoryBytes"/> of guest memory and two rings of <paramref name="ringSize"/> entries
    /// with <paramref name="bufferSize"/>-byte buffers, connects to <paramref name="socket"/> (waiting for it up to
    /// <paramref name="connectTimeout"/>) and runs <paramref name="bringUp"/> (start, negotiate, fill RX, check what was
    /// acked). Whatever fails, everything made so far is closed again and the exception passed on.
    /// </summary>
    public static SplitNetDevice Open(string socket, TimeSpan connectTimeout, ulong memoryBytes, uint ringSize, uint bufferSize,
        Action<SplitNetDevice> bringUp)
    {
        FrontendMemory? mem = null;
        SplitRingDriver? rx = null, tx = null;
        VhostUserFrontend? fe = null;
        try
        {
            mem = FrontendMemory.Create(memoryBytes);
            var options = new RingDriverOptions { Size = ringSize, BufferSize = bufferSize, Features = Features, MaxIndirect = 0 };
            rx = new SplitRingDriver(mem, options);
            tx = new SplitRingDriver(mem, options);
            fe = VhostUserFrontend.Connect(socket, connectTimeout);
            var device = new SplitNetDevice(mem, rx, tx, fe);
            bringUp(device);
            return device;
        }
        catch
        {
            fe?.Dispose();
            rx?.Dispose();
            tx?.Dispose();
            mem?.Dispose();
            throw;
        }
    }

    /// <summary>What the frontend asks for in <see cref="Start"/> and <see cref="Negotiate"/>.</summary>
    public static NetDeviceOptions Options => new() { WantedFeatures = Features };

    /// <summary>Negotiates and brings the device up on the two rings.</summary>
    public void Start() => Frontend.Start(Memory, new IRingLayout[] { Rx.Areas, Tx.Areas }, Options);

    /// <summary>
    /// <see cref="Start"/> in IOTLB mode (IOMMU_PLATFORM acked, ring addresses sent as IOVAs), then every region
    /// mapped read-write at IOVA = guest physical address, as a guest IOMMU that maps all of its memory for the device.
    /// </summary>
    public void StartIommu()
    {
        Frontend.Start(Memory, new IRingLayout[] { Rx.Areas, Tx.Areas }, Options with { Iommu = true, BackendChannel = true });
        Frontend.IotlbMapAll(Memory);
    }

    /// <summary>Negotiates features and the queue pair only; the device is not started.</summary>
    public void Negotiate() => Frontend.Negotiate(1, packed: false, Options);

    /// <summary>Stops the device as QEMU does (GET_VRING_BASE: the backend's destroy_device) unless the connection
    /// is broken, then closes everything.</summary>
    public void StopAndDispose()
    {
        try
        {
            if (!Frontend.IsBroken) Frontend.Stop();
        }
        finally
        {
            Dispose();
        }
    }

    public void Dispose()
    {
        try
        {
            Frontend.Dispose();
        }
        finally
        {
            Rx.Dispose();
            Tx.Dispose();
            Memory.Dispose();
        }
    }
}
