using HotPath.Protocol.Control;

namespace HotPath.Tests.Protocol;

/// <summary>A point in a <see cref="DeviceEventLog"/>: waits given it see only the events recorded after it.</summary>
public readonly record struct EventMark(int Index);

/// <summary>
/// Records every device callback so tests can wait for and assert on lifecycle events. Events are kept in order with
/// their index; <see cref="WaitFor(string, TimeSpan)"/> consumes (the next wait starts after the event it returned),
/// and <see cref="WaitFor(string, TimeSpan, EventMark)"/> looks only after a <see cref="Mark"/> taken before the
/// action, so a round of a test can never be handed an event of the round before (issue 12).
/// </summary>
public sealed class DeviceEventLog : IVhostDeviceOps
{
    private readonly List<string> _all = new();
    private int _cursor;   // under _all: where the next consuming wait starts

    public IReadOnlyList<string> All
    {
        get { lock (_all) return _all.ToList(); }
    }

    private int Add(string e)
    {
        lock (_all)
        {
            _all.Add(e);
            Monitor.PulseAll(_all);
        }
        return 0;
    }

    public int NewDevice(int vid) => Add($"new_device {vid}");
    public void DestroyDevice(int vid) => Add($"destroy_device {vid}");
    public int VringStateChanged(int vid, ushort queueId, bool enable) => Add($"vring_state_changed {vid} {queueId} {(enable ? 1 : 0)}");
    public int FeaturesChanged(int vid, ulong features) => Add($"features_changed {vid} 0x{features:x}");
    public int NewConnection(int vid) => Add($"new_connection {vid}");
    public void DestroyConnection(int vid) => Add($"destroy_connection {vid}");

    /// <summary>The current end of the log: a later <see cref="WaitFor(string, TimeSpan, EventMark)"/> sees only what
    /// is recorded from here on.</summary>
    public EventMark Mark()
    {
        lock (_all) return new EventMark(_all.Count);
    }

    /// <summary>Waits for the next event, after the previous consuming wait's, starting with <paramref name="prefix"/>;
    /// returns it or throws with what was seen.</summary>
    public string WaitFor(string prefix, TimeSpan timeout)
    {
        lock (_all)
        {
            string e = Find(prefix, timeout, _cursor, out int index);
            _cursor = index + 1;
            return e;
        }
    }

    /// <summary>Waits for the first event recorded after <paramref name="after"/> that starts with
    /// <paramref name="prefix"/>.</summary>
    public string WaitFor(string prefix, TimeSpan timeout, EventMark after)
    {
        lock (_all)
        {
            string e = Find(prefix, timeout, after.Index, out int index);
            _cursor = Math.Max(_cursor, index + 1);
            return e;
        }
    }

    /// <summary>Call with the lock held: the first matching event at or after <paramref name="from"/>.</summary>
    private string Find(string prefix, TimeSpan timeout, int from, out int index)
    {
        var deadline = DateTime.UtcNow + timeout;
        for (index = from; ; index++)
        {
            while (index >= _all.Count)
            {
                TimeSpan left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_all, left) && index >= _all.Count)
                    throw new TimeoutException($"no '{prefix}' within {timeout.TotalSeconds:0.#} s; events: {string.Join(", ", _all)}");
            }
            if (_all[index].StartsWith(prefix, StringComparison.Ordinal)) return _all[index];
        }
    }

    public int Count(string prefix)
    {
        lock (_all) return _all.Count(e => e.StartsWith(prefix, StringComparison.Ordinal));
    }
}
