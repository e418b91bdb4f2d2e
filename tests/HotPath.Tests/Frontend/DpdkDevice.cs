using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Frontend;

/// <summary>
/// testpmd serving a fresh socket, guest memory with net rings, and a HotPath frontend connected to it, optionally
/// started. Disposes all three (frontend first, so DPDK sees an orderly close).
/// </summary>
internal sealed class DpdkDevice : IDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    public DpdkBackend Dpdk { get; }
    public FrontendMemory Memory { get; }
    public IReadOnlyList<RingAreas> Rings { get; }
    public VhostUserFrontend Frontend { get; }

    private DpdkDevice(DpdkBackend dpdk, FrontendMemory memory, IReadOnlyList<RingAreas> rings, VhostUserFrontend frontend)
    {
        Dpdk = dpdk;
        Memory = memory;
        Rings = rings;
        Frontend = frontend;
    }

    /// <summary>Connects a frontend to a new testpmd; <paramref name="start"/> also brings the device to "ready".</summary>
    public static DpdkDevice Open(string tag, bool start = true, int pairs = 1, bool packed = false, bool requestAcks = true,
        NetDeviceOptions? options = null)
    {
        DpdkBackend dpdk = DpdkBackend.Start(DpdkBackend.NewSocketPath(tag), new DpdkBackend.Options { Queues = pairs });
        FrontendMemory? mem = null;
        VhostUserFrontend? fe = null;
        try
        {
            mem = FrontendRig.Memory();
            var rings = NetVrings.Allocate(mem, pairs, 256, packed);
            fe = VhostUserFrontend.Connect(dpdk.SocketPath, FrontendRig.Connect);
            fe.RequestAcks = requestAcks;
            if (start)
            {
                fe.Start(mem, rings, options);
                dpdk.Expect("virtio is now ready for processing", Wait);
            }
            return new DpdkDevice(dpdk, mem, rings, fe);
        }
        catch
        {
            fe?.Dispose();
            mem?.Dispose();
            dpdk.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Frontend.Dispose();
        Memory.Dispose();
        Dpdk.Dispose();
    }
}
