using System.Diagnostics;
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
    private readonly SplitNetDevice _device;
    private readonly byte[] _frame = new byte[64], _header, _buf = new byte[4096];

    public VhostUserFrontend Frontend => _device.Frontend;
    public SplitRingDriver Rx => _device.Rx;
    public SplitRingDriver Tx => _device.Tx;

    private EchoDevice(SplitNetDevice device)
    {
        _device = device;
        _header = new byte[device.Tx.HeaderSize];
        _frame[12] = 0x08;   // IPv4 ethertype; io forwarding does not look further
    }

    public static EchoDevice Open(string socket) =>
        new(SplitNetDevice.Open(socket, TimeSpan.FromSeconds(10), 4UL << 20, 256, 2048, d =>
        {
            d.Start();
            d.Rx.FillRx(2048);
            d.Rx.Publish();
        }));

    /// <summary>Sends <paramref name="count"/> (at most 128) frames and returns how many came back within 10 s.</summary>
    public int Echo(int count)
    {
        for (int i = 0; i < count; i++) Assert.True(Tx.PostTx(_header, _frame), "TX ring full");
        Tx.Publish();
        int received = 0;
        var clock = Stopwatch.StartNew();
        while (received < count && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            Tx.ReapTx();
            if (Rx.TryReceive(_buf, out RxInfo info))
            {
                if (info.UsedLen != 0) received++;
                continue;
            }
            Rx.FillRx(2048);
            Rx.Publish();
            Thread.Yield();
        }
        Tx.ReapTx();
        return received;
    }

    public void Dispose() => _device.StopAndDispose();
}
