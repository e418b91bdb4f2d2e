using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Frontend.VhostUser;
using HotPath.Tests.Datapath;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Protocol;

namespace HotPath.Tests.Migration;

/// <summary>
/// HotPath's backend (server mode, in this process) and HotPath's frontend talking over a real Unix socket, one
/// queue pair of split or packed rings (<see cref="GuestTraffic"/>). The test thread plays both the guest and the application
/// on the backend, which forwards guest TX to guest RX with real bursts on the device the control plane built.
/// </summary>
internal sealed unsafe class SocketLoopback : IDisposable
{
    public static readonly TimeSpan Wait = SocketDevice.Wait;
    private const int Burst = 32;

    private readonly SocketDevice _socket;
    public GuestTraffic Guest { get; }
    public DeviceEventLog Events => _socket.Events;
    public VhostUserFrontend Frontend => _socket.Frontend;
    public VhostDevice Device => _socket.Device;
    public global::HotPath.Protocol.Control.VhostSession Session => _socket.Session;
    public Mempool Pool { get; }

    private readonly nint[] _burst = new nint[Burst];

    /// <summary>Thread CPU time spent in the backend's bursts (<see cref="Forward"/> called by <see cref="Round"/>).</summary>
    public long BackendNanoseconds;

    /// <summary>Packets the forwarder gave up on (the guest RX ring stayed full or locked).</summary>
    public long Dropped;

    /// <summary>
    /// Keep the packets the guest RX ring did not take (instead of counting them in <see cref="Dropped"/>) and offer
    /// them first at the next <see cref="Forward"/>: for tests where the RX ring may stay unusable for a while (an
    /// IOTLB invalidation between the dequeue and the enqueue of one round).
    /// </summary>
    public bool HoldUndelivered { get; set; }

    private readonly List<nint> _held = new();

    public SocketLoopback(string tag, ulong[]? regionSizes = null, uint ringSize = 256, NetDeviceOptions? options = null,
        global::HotPath.Protocol.Control.VhostDriverFlags flags = global::HotPath.Protocol.Control.VhostDriverFlags.None, Action<VhostUserFrontend, GuestTraffic>? afterStart = null,
        bool packed = false, ulong features = GuestTraffic.Features, uint rxBuffer = 2048, bool indirect = false)
    {
        Guest = new GuestTraffic(regionSizes, ringSize, packed, features, rxBuffer, indirect, options?.IovaOffset ?? 0);
        _socket = new SocketDevice(tag, Guest.Memory, Guest.Rings, options, flags, fe => afterStart?.Invoke(fe, Guest));
        Pool = TestPools.Create(4096);
    }

    /// <summary>One round: the guest sends up to <paramref name="packets"/> packets, the backend forwards them, the guest collects.</summary>
    public int Round(int packets, Func<ulong, int> size)
    {
        Guest.Send(packets, size);
        long t0 = ThreadCpuTime.Nanoseconds;
        Forward();
        BackendNanoseconds += ThreadCpuTime.Nanoseconds - t0;
        return Guest.Collect();
    }

    /// <summary>
    /// The backend application: dequeue guest TX, enqueue to guest RX. A burst that finds its ring's lock held by
    /// the control plane moves nothing, so packets are held and offered again (for a while) rather than dropped.
    /// </summary>
    public void Forward()
    {
        if (_held.Count > 0)
        {
            nint[] held = _held.ToArray();
            int k = Device.EnqueueBurst(0, held);
            fixed (nint* p = held) MbufOps.FreeBulk((Mbuf**)p, (uint)k);
            _held.RemoveRange(0, k);
            if (_held.Count > 0) return;   // still not taken: the ring is not usable yet
        }
        while (true)
        {
            ushort n = Device.DequeueBurst(1, Pool, _burst);
            if (n == 0) return;
            fixed (nint* p = _burst)
            {
                int done = 0;
                for (int attempt = 0; done < n && attempt < 100_000; attempt++)
                {
                    int k = Device.EnqueueBurst(0, new ReadOnlySpan<nint>(p + done, n - done));
                    if (k == 0) Thread.Yield();
                    done += k;
                }
                if (HoldUndelivered && done < n)
                {
                    for (int i = done; i < n; i++) _held.Add(p[i]);
                    MbufOps.FreeBulk((Mbuf**)p, (uint)done);
                    return;
                }
                MbufOps.FreeBulk((Mbuf**)p, (uint)n);
                Dropped += n - done;
            }
        }
    }

    public void Dispose()
    {
        foreach (nint m in _held) MbufOps.Free((Mbuf*)m);
        _held.Clear();
        _socket.Dispose();
        Guest.Dispose();
        Pool.Dispose();
    }
}
