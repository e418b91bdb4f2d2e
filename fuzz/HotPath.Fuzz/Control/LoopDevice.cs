using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Fuzz.Core;

namespace HotPath.Fuzz.Control;

/// <summary>
/// An honest frontend of the message-sequence cases: memfd memory, split RX (vring 0) and TX (vring 1) rings of 256
/// with 2 KiB buffers, and its vhost-user connection. <see cref="Loop"/> plays the backend application: what the
/// device dequeues from TX it enqueues back on RX (the test thread polls; the backend's control thread may be
/// handling a message at the same time).
/// </summary>
internal sealed unsafe class LoopDevice : IDisposable
{
    private const uint Buffer = 2048;

    private readonly SplitNetDevice _device;
    public FrontendMemory Memory => _device.Memory;
    public SplitRingDriver Rx => _device.Rx;
    public SplitRingDriver Tx => _device.Tx;
    public VhostUserFrontend Frontend => _device.Frontend;

    private LoopDevice(SplitNetDevice device) => _device = device;

    /// <summary>Connects; with <paramref name="start"/> negotiates and brings the device up, else only negotiates.</summary>
    public static LoopDevice Open(string path, bool start) =>
        new(SplitNetDevice.Open(path, TimeSpan.FromSeconds(5), 8UL << 20, 256, Buffer, d =>
        {
            if (start) d.Start();
            else d.Negotiate();
        }));

    /// <summary>
    /// Posts <paramref name="frames"/> on TX, then polls the device on the backend side up to
    /// <paramref name="rounds"/> times (dequeue from TX, enqueue the packets on RX, free them). Returns the frames
    /// the RX ring handed back, in order.
    /// </summary>
    public List<byte[]> Loop(VhostDevice? dev, IReadOnlyList<byte[]> frames, int rounds)
    {
        var got = new List<byte[]>();
        if (Desynchronized != null) return got;
        try
        {
            LoopOnce(dev, frames, rounds, got);
        }
        catch (InvalidDataException e)
        {
            // Only the frontend's ring drivers throw this: the device returned used entries they cannot account for,
            // which it does, rightly, after the frontend itself changed a running ring (e.g. SET_VRING_NUM 1 under a
            // ring of 256). These rings are unusable from now on; the backend's side is checked by the caller.
            Desynchronized = e.Message;
        }
        return got;
    }

    /// <summary>Why this device's rings stopped being usable from the frontend side (null while they are).</summary>
    public string? Desynchronized { get; private set; }

    private void LoopOnce(VhostDevice? dev, IReadOnlyList<byte[]> frames, int rounds, List<byte[]> got)
    {
        Rx.FillRx(Buffer);
        Rx.Publish();
        var header = new byte[Tx.HeaderSize];
        foreach (byte[] f in frames) Tx.PostTx(header, f);
        Tx.Publish();
        var dst = new byte[Buffer * 4];
        Mempool pool = FuzzPools.Shared;
        var pkts = new nint[32];
        for (int r = 0; r < rounds && got.Count < frames.Count; r++)
        {
            if (dev != null)
            {
                ushort n = dev.DequeueBurst(1, pool, pkts);
                try
                {
                    if (n != 0) dev.EnqueueBurst(0, pkts.AsSpan(0, n));
                }
                finally
                {
                    for (int k = 0; k < n; k++) MbufOps.Free((Mbuf*)pkts[k]);
                }
            }
            while (Rx.TryReceive(dst, out RxInfo info))
                if (info.UsedLen != 0) got.Add(dst[..info.Length].ToArray());
            Tx.ReapTx();
        }
    }

    public void Dispose() => _device.Dispose();
}
