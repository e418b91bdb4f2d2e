using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Tests.Datapath;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Protocol;

namespace HotPath.Tests.Migration;

/// <summary>
/// HotPath's backend (server mode, in this process) and HotPath's frontend talking over a real Unix socket, one
/// queue pair of split rings driven by <see cref="SplitRingDriver"/>s in memfd guest memory. The test thread plays
/// both the guest (posting TX packets and RX buffers, reaping) and the application on the backend (forwarding guest
/// TX to guest RX with real bursts on the device the control plane built).
/// </summary>
internal sealed unsafe class SocketLoopback : IDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    public const ulong Features = NetDeviceOptions.DefaultFeatures;
    private const int Burst = 32;

    public VhostDriver Driver { get; }
    public DeviceEventLog Events { get; } = new();
    public FrontendMemory Memory { get; }
    public SplitRingDriver Rx { get; }
    public SplitRingDriver Tx { get; }
    public IReadOnlyList<RingAreas> Rings { get; }
    public VhostUserFrontend Frontend { get; }
    public VhostSession Session { get; }
    public VhostDevice Device => Session.Device;
    public Mempool Pool { get; }

    private readonly nint[] _burst = new nint[Burst];
    private readonly byte[] _rx = new byte[16384];
    private readonly byte[] _hdr;
    private ulong _seq;

    /// <summary>Thread CPU time spent in the backend's bursts (<see cref="Forward"/> called by <see cref="Round"/>).</summary>
    public long BackendNanoseconds;

    /// <summary>Packets the guest sent, and received back.</summary>
    public long Sent, Received;

    /// <summary>Called with (descriptor id, used length) for every RX used entry before the guest consumes it.</summary>
    public Action<uint, uint>? OnRxUsed;

    public SocketLoopback(string tag, ulong[]? regionSizes = null, uint ringSize = 256)
    {
        Driver = VhostDriver.Register(DpdkBackend.NewSocketPath(tag), VhostDriverFlags.None);
        Driver.RegisterCallbacks(Events);
        Driver.Start();
        Memory = FrontendMemory.Create(regionSizes ?? new ulong[] { 32 << 20 });
        var o = new SplitDriverOptions { Size = ringSize, BufferSize = 2048, Features = Features, Region = 0 };
        Rx = new SplitRingDriver(Memory, o);
        Tx = new SplitRingDriver(Memory, o);
        Rings = new[] { Rx.Areas, Tx.Areas };
        Frontend = VhostUserFrontend.Connect(Driver.Path, Wait);
        Frontend.Start(Memory, Rings);
        int vid = int.Parse(Events.WaitFor("new_device", Wait).Split(' ')[1]);
        Session = DeviceRegistry.Get(vid)!;
        Pool = TestPools.Create(4096);
        _hdr = new byte[Rx.HeaderSize];
        Rx.FillRx(2048);
        Rx.Publish();
    }

    /// <summary>
    /// One round: the guest posts up to <paramref name="packets"/> TX packets of the given sizes; the backend dequeues
    /// and enqueues them in bursts; the guest reaps TX and receives RX (then reposts the buffers). Returns packets received.
    /// </summary>
    public int Round(int packets, Func<ulong, int> size)
    {
        for (int i = 0; i < packets; i++)
        {
            ulong seq = _seq;
            int len = size(seq);
            Payload.Fill(_rx.AsSpan(0, len), seq);
            if (!Tx.PostTx(_hdr, _rx.AsSpan(0, len))) break;
            _seq++;
            Sent++;
        }
        Tx.Publish();
        long t0 = ThreadCpuTime.Nanoseconds;
        Forward();
        BackendNanoseconds += ThreadCpuTime.Nanoseconds - t0;
        Tx.ReapTx();
        return ReceiveAll();
    }

    /// <summary>
    /// The backend application: dequeue guest TX, enqueue to guest RX. A burst that finds its ring's lock held by
    /// the control plane moves nothing, so packets are held and offered again (for a while) rather than dropped.
    /// </summary>
    public void Forward()
    {
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
                MbufOps.FreeBulk((Mbuf**)p, (uint)n);
                Dropped += n - done;
            }
        }
    }

    /// <summary>Packets the forwarder gave up on (the guest RX ring stayed full or locked).</summary>
    public long Dropped;

    /// <summary>Receives every packet the device used, checks its bytes, and reposts the buffers.</summary>
    public int ReceiveAll()
    {
        int got = 0;
        if (OnRxUsed != null)
            for (ushort i = Rx.LastUsed; i != Rx.UsedIdx; i++)
            {
                var e = Rx.RawUsed(i);
                OnRxUsed(e.Id, e.Len);
            }
        while (Rx.TryReceive(_rx, out RxInfo info))
        {
            if (info.UsedLen == 0) continue;
            ulong seq = Payload.Seq(_rx);
            if (!Payload.Matches(_rx.AsSpan(0, info.Length), seq)) throw new InvalidDataException($"packet {seq} arrived corrupted");
            got++;
        }
        Received += got;
        Rx.FillRx(2048);
        Rx.Publish();
        return got;
    }

    public void Dispose()
    {
        Frontend.Dispose();
        try { Driver.Unregister(); } catch (VhostException) { }
        Rx.Dispose();
        Tx.Dispose();
        Pool.Dispose();
        Memory.Dispose();
    }
}
