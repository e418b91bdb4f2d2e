using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Protocol.Control;

namespace HotPath.TestBackend;

/// <summary>Device callbacks: one forwarding thread per running device, stopped and joined in destroy_device.</summary>
internal sealed unsafe class Forwarder(Mempool pool) : IVhostDeviceOps
{
    private const int Burst = 32;
    private readonly DeviceThreads _threads = new();

    /// <summary>Completed by takeover_complete: every device went to a new process.</summary>
    public TaskCompletionSource HandedOver { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void TakeoverComplete(string path) => HandedOver.TrySetResult();

    public int NewDevice(int vid)
    {
        VhostDevice dev = DeviceRegistry.Get(vid)!.Device;
        _threads.Start(vid, $"forward {vid}", stop => Run(dev, stop));
        Console.WriteLine($"device {vid} started");
        return 0;
    }

    public void DestroyDevice(int vid)
    {
        if (!_threads.TryStop(vid, Timeout.InfiniteTimeSpan, out _)) return;
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
        // Stopping (destroy_device): the packets in hand go out while the RX ring is still up (a takeover stops a
        // live ring, and the guest keeps taking packets), for up to a second; a ring the frontend stopped
        // (GET_VRING_BASE) is not ready any more and they are dropped at once.
        long deadline = Environment.TickCount64 + 1000;
        while (sent < held && dev.GetVring(0) is { IsReady: true } && Environment.TickCount64 < deadline)
        {
            ushort n = dev.EnqueueBurst(0, (Mbuf**)pkts + sent, (ushort)(held - sent));
            sent += n;
            if (n == 0) Thread.Yield();
        }
        MbufOps.FreeBulk((Mbuf**)pkts, (uint)held);
    }
}
