namespace HotPath.TestBackend;

/// <summary>
/// One thread per running device, as applications run their datapath: started in new_device, cancelled and joined in
/// destroy_device. Shared by hp-test-backend's <see cref="Forwarder"/> and the tests' in-process applications.
/// </summary>
public sealed class DeviceThreads
{
    private readonly Dictionary<int, (Thread Thread, CancellationTokenSource Stop)> _running = new();

    /// <summary>Starts <paramref name="body"/> on a background thread for device <paramref name="vid"/>.</summary>
    public void Start(int vid, string name, Action<CancellationToken> body)
    {
        var stop = new CancellationTokenSource();
        var t = new Thread(() => body(stop.Token)) { IsBackground = true, Name = name };
        lock (_running) _running[vid] = (t, stop);
        t.Start();
    }

    /// <summary>
    /// Cancels device <paramref name="vid"/>'s thread and waits up to <paramref name="timeout"/> for it to end.
    /// Returns false when the device has no thread; <paramref name="joined"/> says whether the thread ended in time.
    /// </summary>
    public bool TryStop(int vid, TimeSpan timeout, out bool joined)
    {
        (Thread Thread, CancellationTokenSource Stop) r;
        lock (_running)
        {
            if (!_running.Remove(vid, out r))
            {
                joined = false;
                return false;
            }
        }
        r.Stop.Cancel();
        joined = r.Thread.Join(timeout);
        if (joined) r.Stop.Dispose();
        return true;
    }
}
