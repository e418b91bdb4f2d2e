// A vhost-user backend in C# on the HotPath NuGet packages: it serves one socket, and while a device is up a polling
// thread (started in new_device, joined in destroy_device) dequeues the guest's TX ring and counts what arrives.
// Usage: dotnet HotPath.Sample.dll SOCKET SECONDS
using System.Diagnostics;
using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Protocol.Control;

if (args.Length < 2 || !double.TryParse(args[1], System.Globalization.CultureInfo.InvariantCulture, out double seconds))
{
    Console.Error.WriteLine("usage: HotPath.Sample SOCKET SECONDS");
    return 2;
}
ControlLog.Sink = (_, line) => Console.Error.WriteLine(line);   // the library writes nothing unless asked
using var pool = Mempool.Create("sample", 8192, 256, 2048 + 128);
var counter = new RxCounter(pool);
var driver = VhostDriver.Register(args[0], VhostDriverFlags.None);
driver.RegisterCallbacks(counter);
driver.Start();
Thread.Sleep(TimeSpan.FromSeconds(seconds));
driver.Unregister();
Console.WriteLine($"sample: packets={counter.Packets} bytes={counter.Bytes} pool_in_use={pool.InUse}");
return counter.Packets > 0 && pool.InUse == 0 ? 0 : 1;

/// <summary>new_device starts a thread that polls the guest's TX ring (vring 1); destroy_device stops and joins it.</summary>
internal sealed unsafe class RxCounter(Mempool pool) : IVhostDeviceOps
{
    private readonly Dictionary<int, (Thread Thread, CancellationTokenSource Stop)> _pollers = new();
    public long Packets, Bytes;

    public int NewDevice(int vid)
    {
        var stop = new CancellationTokenSource();
        var t = new Thread(() => Poll(vid, stop.Token)) { Name = $"poll-{vid}", IsBackground = true };
        lock (_pollers) _pollers[vid] = (t, stop);
        t.Start();
        Console.WriteLine($"sample: new_device vid={vid}");
        return 0;
    }

    public void DestroyDevice(int vid)
    {
        (Thread Thread, CancellationTokenSource Stop) p;
        lock (_pollers)
            if (!_pollers.Remove(vid, out p)) return;
        p.Stop.Cancel();
        p.Thread.Join();
        Console.WriteLine($"sample: destroy_device vid={vid}");
    }

    private void Poll(int vid, CancellationToken stop)
    {
        VhostDevice? dev = DeviceRegistry.GetDevice(vid);
        Debug.Assert(dev != null);
        Span<nint> pkts = stackalloc nint[32];
        while (!stop.IsCancellationRequested && dev != null)
        {
            ushort n = dev.DequeueBurst(1, pool, pkts);
            for (int i = 0; i < n; i++) Bytes += ((Mbuf*)pkts[i])->PktLen;
            Packets += n;
            fixed (nint* p = pkts) MbufOps.FreeBulk((Mbuf**)p, n);
            if (n == 0) Thread.Yield();
        }
    }
}
