using HotPath.Frontend.Memory;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Protocol;

namespace HotPath.Tests.Security;

/// <summary>
/// One HotPath backend (server mode, in this process) that the hostile-input tests attack, plus the leak checks they
/// share: after N repetitions of a hostile case, open fds and mappings are back where they were and RSS has not
/// grown beyond allocator noise.
/// </summary>
public sealed class HostileBackend : IDisposable
{
    public static readonly TimeSpan Observe = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Repetitions per case. Cases that keep the connection (NEED_REPLY → nack) repeat on one connection; cases that
    /// end it reconnect each time. HOTPATH_HOSTILE_REPS overrides (the fuzz run uses more).
    /// </summary>
    public static int Reps => int.TryParse(Environment.GetEnvironmentVariable("HOTPATH_HOSTILE_REPS"), out int n) ? n : 10_000;

    /// <summary>Repetitions for cases that must reconnect (each costs a connection and a negotiation).</summary>
    public static int ReconnectReps => Math.Max(1, Reps / 10);

    public string Path { get; }
    public VhostDriver Driver { get; }
    public DeviceEventLog Events { get; } = new();

    public HostileBackend() : this(VhostDriverFlags.None)
    {
    }

    internal HostileBackend(VhostDriverFlags flags)
    {
        Path = DpdkBackend.NewSocketPath("hostile");
        Driver = VhostDriver.Register(Path, flags);
        Driver.RegisterCallbacks(Events);
        Driver.Start();
    }

    /// <summary>A frontend that negotiated (1 pair, split) and, when asked, sent a memory table.</summary>
    public VhostUserFrontend Negotiated(FrontendMemory? memory = null, uint? ringSize = null, NetDeviceOptions? options = null)
    {
        var fe = VhostUserFrontend.Connect(Path, TimeSpan.FromSeconds(5));
        fe.Negotiate(1, packed: false, options);
        if (memory != null) fe.SetMemTable(memory);
        if (ringSize is uint num) fe.SetVringNum(0, num);
        return fe;
    }

    /// <summary>Waits until the backend has closed every connection it had (sessions close on its own thread).</summary>
    public void WaitIdle()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Driver.HasConnections && DateTime.UtcNow < deadline) Thread.Sleep(2);
        Assert.False(Driver.HasConnections, "the backend kept a connection the test closed");
    }

    public void Dispose() => Driver.Unregister();
}

/// <summary>Process resources before a hostile run, compared after it.</summary>
public readonly struct ResourceSnapshot
{
    public int Fds { get; }
    public int Mappings { get; }
    public long Rss { get; }

    private ResourceSnapshot(int fds, int maps, long rss)
    {
        Fds = fds;
        Mappings = maps;
        Rss = rss;
    }

    /// <summary>
    /// The baseline: taken again until two snapshots 50 ms apart agree on fds and mappings (up to 5 s), so that a
    /// close still on its way from earlier work (a session the backend closes on its own thread) is not counted in
    /// it. A baseline with such an fd in it fails <see cref="AssertFlat"/> when the fd goes (seen once: 30 -> 28).
    /// </summary>
    public static ResourceSnapshot Take()
    {
        ResourceSnapshot s = TakeOnce();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            Thread.Sleep(50);
            ResourceSnapshot again = TakeOnce();
            if (again.Fds == s.Fds && again.Mappings == s.Mappings) return again;
            s = again;
        }
        return s;
    }

    private static ResourceSnapshot TakeOnce()
    {
        // Aggressive collections decommit the GC heap, so RSS reflects live memory, not garbage the test made.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        Thread.Sleep(20);   // let the control thread run the buffer frees it posted
        return new ResourceSnapshot(ProcessResources.OpenFds, ProcessResources.MemfdMappings, ProcessResources.RssBytes);
    }

    /// <summary>
    /// fds and memfd mappings exactly back; RSS within <paramref name="rssSlackMiB"/> (GC heap and allocator noise).
    /// The backend closes sessions on its own thread and the runtime opens files of its own for a moment, so the
    /// counts are read again until they settle (a leak stays; under CPU contention, a close can come late).
    /// </summary>
    public void AssertFlat(string what, int rssSlackMiB = 24)
    {
        ResourceSnapshot after = TakeOnce();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((after.Fds != Fds || after.Mappings != Mappings) && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(20);
            after = TakeOnce();
        }
        Assert.True(after.Fds == Fds, $"{what}: open fds {Fds} -> {after.Fds}: {string.Join(", ", ProcessResources.FdTargets().Where(t => !t.EndsWith(".dll", StringComparison.Ordinal)))}");
        Assert.True(after.Mappings == Mappings, $"{what}: memfd mappings {Mappings} -> {after.Mappings}");
        long grew = after.Rss - Rss;
        Assert.True(grew < rssSlackMiB << 20, $"{what}: RSS grew by {grew >> 20} MiB");
    }
}
