using HotPath.Engine;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.VhostUser;
using HotPath.Fuzz.Control;
using HotPath.Protocol.Control;

namespace HotPath.Fuzz.Iotlb;

/// <summary>
/// A backend registered with IOMMU_SUPPORT on its own Unix socket and HotPath's frontend in IOTLB mode on it:
/// IOMMU_PLATFORM negotiated, REPLY_ACK on (every message is acked or nacked), a memory table of two 2 MiB memfd
/// regions, no rings. IOTLB messages go through the real socket, session and handler.
/// </summary>
internal sealed class IotlbRig : IVhostDeviceOps, IDisposable
{
    private static int s_count;
    private readonly VhostDriver _driver;
    private int _vid = -1;

    public FrontendMemory Memory { get; }
    public VhostUserFrontend Frontend { get; }
    public VhostDevice Device { get; }

    public IotlbRig()
    {
        string path = Path.Combine(Path.GetTempPath(), $"hp-fuzz-iotlb-{Environment.ProcessId}-{Interlocked.Increment(ref s_count)}.sock");
        _driver = VhostDriver.Register(path, VhostDriverFlags.IommuSupport);
        try
        {
            _driver.RegisterCallbacks(this);
            _driver.Start();
            Memory = FrontendMemory.Create(new[] { IotlbGen.RegionSize, IotlbGen.RegionSize });
            Frontend = VhostUserFrontend.Connect(path, TimeSpan.FromSeconds(5));
            Frontend.Negotiate(1, packed: false, new NetDeviceOptions { Iommu = true, BackendChannel = true });
            Frontend.SetFeatures(VirtioFeatures.Bit(VirtioFeatures.Version1) | VirtioFeatures.Bit(VirtioFeatures.AccessPlatform) |
                                 VirtioFeatures.Bit(VirtioFeatures.ProtocolFeatures));
            Frontend.SetMemTable(Memory);
            if (!ControlBackend.WaitFor(() => Volatile.Read(ref _vid) >= 0 && DeviceRegistry.GetDevice(_vid) != null))
                throw new TimeoutException("the backend never reported the connection");
            Device = DeviceRegistry.GetDevice(_vid)!;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int NewConnection(int vid)
    {
        Volatile.Write(ref _vid, vid);
        return 0;
    }

    /// <summary>The frontend virtual address an op names.</summary>
    public ulong Resolve(IotlbOp op) => op.Region < 0 ? op.User : Memory.Regions[op.Region].UserAddr + op.User;

    public bool InRegion(ulong user, ulong size) =>
        Memory.Regions.Any(r => user >= r.UserAddr && user - r.UserAddr < r.Size && size <= r.Size - (user - r.UserAddr));

    /// <summary>The guest physical address of a frontend virtual address inside the memory.</summary>
    public ulong GpaOf(ulong user)
    {
        FrontendMemory.Region r = Memory.Regions.First(r => user >= r.UserAddr && user - r.UserAddr < r.Size);
        return r.GuestPhysAddr + (user - r.UserAddr);
    }

    /// <summary>Sends the message; true when the backend acked it, false when it nacked it (anything else throws).</summary>
    public bool Send(IotlbOp op, ulong user)
    {
        try
        {
            Frontend.IotlbUpdate(op.Iova, op.Size, user, op.Perm, op.Type);
            return true;
        }
        catch (VhostUserException e) when (e.Failure == VhostUserFailure.Nack)
        {
            return false;
        }
    }

    public void Dispose()
    {
        Frontend?.Dispose();
        _driver.Unregister();
        Memory?.Dispose();
    }
}
