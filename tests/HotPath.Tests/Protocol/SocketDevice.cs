using HotPath.Engine;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Protocol;

/// <summary>
/// HotPath's backend (server mode, in this process, its callbacks recorded in <see cref="Events"/>) and HotPath's
/// frontend connected to it over a real Unix socket, the device started on the caller's memory and rings. The test
/// rigs that play guest and backend application on one thread build on it.
/// </summary>
internal sealed class SocketDevice : IDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    public VhostDriver Driver { get; }
    public DeviceEventLog Events { get; } = new();
    public VhostUserFrontend Frontend { get; }
    public VhostSession Session { get; }
    public VhostDevice Device => Session.Device;

    /// <summary>Registers and starts a backend on a new socket, connects the frontend, starts the device and waits
    /// for new_device.</summary>
    /// <remarks><paramref name="afterStart"/> runs between the frontend's start and the wait (an IOMMU frontend maps
    /// the rings there: they are not ready before).</remarks>
    public SocketDevice(string tag, FrontendMemory memory, IReadOnlyList<IRingLayout> rings, NetDeviceOptions? options = null,
        VhostDriverFlags flags = VhostDriverFlags.None, Action<VhostUserFrontend>? afterStart = null)
    {
        Driver = VhostDriver.Register(DpdkBackend.NewSocketPath(tag), flags);
        Driver.RegisterCallbacks(Events);
        Driver.Start();
        Frontend = VhostUserFrontend.Connect(Driver.Path, Wait);
        Frontend.Start(memory, rings, options);
        afterStart?.Invoke(Frontend);
        int vid = int.Parse(Events.WaitFor("new_device", Wait).Split(' ')[1]);
        Session = DeviceRegistry.Get(vid)!;
    }

    /// <summary>Closes the frontend's connection, then unregisters the backend (which may already be gone).</summary>
    public void Dispose()
    {
        Frontend.Dispose();
        try { Driver.Unregister(); } catch (VhostException) { }
    }
}
