using HotPath.Protocol.Control;

namespace HotPath.Fuzz.Control;

/// <summary>
/// A HotPath backend for one message-sequence case: a real <see cref="VhostDriver"/> in server mode on its own Unix
/// socket, with callbacks that record the vid of the newest connection and count new_device.
/// </summary>
internal sealed class ControlBackend : IVhostDeviceOps, IDisposable
{
    private static int s_count;
    private int _lastVid = -1, _newDevices;

    public string Path { get; }
    public VhostDriver Driver { get; }

    public ControlBackend()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"hp-fuzz-{Environment.ProcessId}-{Interlocked.Increment(ref s_count)}.sock");
        Driver = VhostDriver.Register(Path, VhostDriverFlags.None);
        Driver.RegisterCallbacks(this);
        Driver.Start();
    }

    public int LastVid => Volatile.Read(ref _lastVid);
    public int NewDevices => Volatile.Read(ref _newDevices);

    public int NewConnection(int vid)
    {
        Volatile.Write(ref _lastVid, vid);
        return 0;
    }

    public int NewDevice(int vid)
    {
        Interlocked.Increment(ref _newDevices);
        return 0;
    }

    /// <summary>Waits until <paramref name="done"/> holds (the control thread works on its own time); false on timeout.</summary>
    public static bool WaitFor(Func<bool> done, double seconds = 5)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!done())
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(1);
        }
        return true;
    }

    public void Dispose() => Driver.Unregister();
}
