using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Protocol.Control;

namespace HotPath.TestBackend;

/// <summary>Device callbacks: one forwarding thread per running device, stopped and joined in destroy_device.</summary>
internal sealed unsafe class Forwarder(Mempool pool) : IVhostDeviceOps
{
    private const int Burst = 32;
    private readonly Dictionary<int, (Thread Thread, CancellationTokenSource Stop)> _running = new();

    public int NewDevice(int vid)
    {
        VhostDevice dev = DeviceRegistry.Get(vid)!.Device;
        var stop = new CancellationTokenSource();
        var t = new Thread(() => Run(dev, stop.Token)) { IsBackground = true, Name = $"forward {vid}" };
        lock (_running) _running[vid] = (t, stop);
        t.Start();
        Console.WriteLine($"device {vid} started");
        return 0;
    }

    public void DestroyDevice(int vid)
    {
        (Thread Thread, CancellationTokenSource Stop) r;
        lock (_running)
        {
            if (!_running.Remove(vid, out r)) return;
        }
        r.Stop.Cancel();
        r.Thread.Join();
        Console.WriteLine($"device {vid} stopped");
    }

    private void Run(VhostDevice dev, CancellationToken stop)
    {
        nint* pkts = stackalloc nint[Burst];
        int held = 0, sent = 0;
        while (!stop.IsCancellationRequested)
        {
            if (held == 0)
            {
                held = dev.DequeueBurst(1, pool.Header, (Mbuf**)pkts, Burst);
                sent = 0;
                if (held == 0)
                {
                    Thread.Yield();
                    continue;
                }
            }
            sent += dev.EnqueueBurst(0, (Mbuf**)pkts + sent, (ushort)(held - sent));
            if (sent < held)
            {
                Thread.Yield();   // guest RX full: hold the rest and try again
                continue;
            }
            MbufOps.FreeBulk((Mbuf**)pkts, (uint)held);
            held = 0;
        }
        MbufOps.FreeBulk((Mbuf**)pkts, (uint)held);
    }
}
