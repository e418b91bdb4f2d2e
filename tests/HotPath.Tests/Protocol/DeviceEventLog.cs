using System.Collections.Concurrent;
using HotPath.Protocol.Control;

namespace HotPath.Tests.Protocol;

/// <summary>Records every device callback so tests can wait for and assert on lifecycle events.</summary>
public sealed class DeviceEventLog : IVhostDeviceOps
{
    private readonly BlockingCollection<string> _events = new();
    private readonly List<string> _all = new();

    public IReadOnlyList<string> All
    {
        get { lock (_all) return _all.ToList(); }
    }

    private int Add(string e)
    {
        lock (_all) _all.Add(e);
        _events.Add(e);
        return 0;
    }

    public int NewDevice(int vid) => Add($"new_device {vid}");
    public void DestroyDevice(int vid) => Add($"destroy_device {vid}");
    public int VringStateChanged(int vid, ushort queueId, bool enable) => Add($"vring_state_changed {vid} {queueId} {(enable ? 1 : 0)}");
    public int FeaturesChanged(int vid, ulong features) => Add($"features_changed {vid} 0x{features:x}");
    public int NewConnection(int vid) => Add($"new_connection {vid}");
    public void DestroyConnection(int vid) => Add($"destroy_connection {vid}");

    /// <summary>Waits for an event starting with <paramref name="prefix"/>; returns it or throws with what was seen.</summary>
    public string WaitFor(string prefix, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !_events.TryTake(out string? e, left))
                throw new TimeoutException($"no '{prefix}' within {timeout.TotalSeconds:0.#} s; events: {string.Join(", ", All)}");
            if (e.StartsWith(prefix, StringComparison.Ordinal)) return e;
        }
    }

    public int Count(string prefix)
    {
        lock (_all) return _all.Count(e => e.StartsWith(prefix, StringComparison.Ordinal));
    }
}
