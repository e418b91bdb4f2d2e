using HotPath.Protocol.Control;

namespace HotPath.Tests.Takeover;

/// <summary>An io forwarder with a polling thread per device; tells whether a device runs.</summary>
internal sealed unsafe class ForwardingApp(HotPath.Engine.Buffers.Mempool pool) : IVhostDeviceOps
{
    private readonly HotPath.TestBackend.DeviceThreads _workers = new();
    private int _running;
    public int Started;
    /// <summary>takeover_complete calls.</summary>
    public int Completed;

    public void TakeoverComplete(string path) => Interlocked.Increment(ref Completed);

    public bool Running => Volatile.Read(ref _running) > 0;

    public int NewDevice(int vid)
    {
        _workers.Start(vid, $"poll-{vid}", stop => Forward(vid, stop));
        Interlocked.Increment(ref _running);
        Interlocked.Increment(ref Started);
        return 0;
    }

    public void DestroyDevice(int vid)
    {
        if (_workers.TryStop(vid, TimeSpan.FromSeconds(10), out _)) Interlocked.Decrement(ref _running);
    }

    private void Forward(int vid, CancellationToken stop)
    {
        HotPath.Engine.VhostDevice dev = DeviceRegistry.GetDevice(vid)!;
        Span<nint> pkts = stackalloc nint[32];
        while (!stop.IsCancellationRequested)
        {
            ushort n = dev.DequeueBurst(1, pool, pkts);
            if (n == 0)
            {
                Thread.Yield();
                continue;
            }
            ushort sent = 0;
            while (sent < n && !stop.IsCancellationRequested) sent += dev.EnqueueBurst(0, pkts[sent..n]);
            fixed (nint* p = pkts) HotPath.Engine.Buffers.MbufOps.FreeBulk((HotPath.Engine.Buffers.Mbuf**)p, n);
        }
    }
}
