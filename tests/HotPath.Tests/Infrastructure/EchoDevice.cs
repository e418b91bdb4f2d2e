using System.Diagnostics;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;

namespace HotPath.Tests.Infrastructure;

/// <summary>
/// One virtio-net device on HotPath's own frontend against a backend that echoes guest TX back to guest RX (hp-fwd
/// --mode io, or an in-process io forwarder): 4 MiB of memfd memory, split RX (vring 0) and TX (vring 1) rings of
/// 256. <see cref="Echo"/> sends frames and counts what comes back; <see cref="Dispose"/> stops the device as QEMU
/// does (GET_VRING_BASE: the backend's destroy_device) and disconnects.
/// </summary>
public sealed class EchoDevice : IDisposable
{
    private readonly FrontendMemory _mem;
    private readonly SplitRingDriver _rx, _tx;
    private readonly byte[] _frame = new byte[64], _header, _buf = new byte[4096];

    public VhostUserFrontend Frontend { get; }
    public SplitRingDriver Rx => _rx;
    public SplitRingDriver Tx => _tx;

    private EchoDevice(FrontendMemory mem, SplitRingDriver rx, SplitRingDriver tx, VhostUserFrontend fe)
    {
        _mem = mem;
        _rx = rx;
        _tx = tx;
        Frontend = fe;
        _header = new byte[tx.HeaderSize];
        _frame[12] = 0x08;   // IPv4 ethertype; io forwarding does not look further
    }

    public static EchoDevice Open(string socket)
    {
        var mem = FrontendMemory.Create(4UL << 20);
        var options = new RingDriverOptions { Size = 256, BufferSize = 2048, Features = NetDeviceOptions.DefaultFeatures, MaxIndirect = 0 };
        var rx = new SplitRingDriver(mem, options);
        var tx = new SplitRingDriver(mem, options);
        VhostUserFrontend? fe = null;
        try
        {
            fe = VhostUserFrontend.Connect(socket, TimeSpan.FromSeconds(10));
            fe.Start(mem, new IRingLayout[] { rx.Areas, tx.Areas }, new NetDeviceOptions { WantedFeatures = NetDeviceOptions.DefaultFeatures });
            rx.FillRx(2048);
            rx.Publish();
            return new EchoDevice(mem, rx, tx, fe);
        }
        catch
        {
            fe?.Dispose();
            rx.Dispose();
            tx.Dispose();
            mem.Dispose();
            throw;
        }
    }

    /// <summary>Sends <paramref name="count"/> (at most 128) frames and returns how many came back within 10 s.</summary>
    public int Echo(int count)
    {
        for (int i = 0; i < count; i++) Assert.True(_tx.PostTx(_header, _frame), "TX ring full");
        _tx.Publish();
        int received = 0;
        var clock = Stopwatch.StartNew();
        while (received < count && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            _tx.ReapTx();
            if (_rx.TryReceive(_buf, out RxInfo info))
            {
                if (info.UsedLen != 0) received++;
                continue;
            }
            _rx.FillRx(2048);
            _rx.Publish();
            Thread.Yield();
        }
        _tx.ReapTx();
        return received;
    }

    public void Dispose()
    {
        try
        {
            if (!Frontend.IsBroken) Frontend.Stop();
        }
        finally
        {
            Frontend.Dispose();
            _rx.Dispose();
            _tx.Dispose();
            _mem.Dispose();
        }
    }
}
