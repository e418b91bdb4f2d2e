using System.Buffers.Binary;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Blk;

/// <summary>A finished virtio-blk request: its status byte, the used length, and what an IN or GET_ID read.</summary>
internal sealed record BlkCompletion(ushort Head, uint Type, ulong Sector, byte Status, uint UsedLen, byte[] Data);

/// <summary>
/// A small virtio-blk driver (virtio 1.2 section 5.2) on a <see cref="SplitRingDriver"/>'s raw descriptors: each
/// request is a chain of a 16-byte readable header, data descriptors (writable for IN and GET_ID, readable for OUT)
/// of at most one descriptor buffer each, and a writable status byte. Completions are matched by head; the ring
/// driver throws on a used entry for a head not in flight, so a request completed twice fails the test.
/// </summary>
internal sealed unsafe class VirtioBlkDriver
{
    public const uint In = 0, Out = 1, Flush = 4, GetId = 8;
    public const byte StatusOk = 0, StatusIoErr = 1, StatusUnsupp = 2;
    public const int Sector = 512;

    private sealed record Pending(ushort[] Ids, uint Type, ulong Sector, int ReadBytes);

    private readonly SplitRingDriver _ring;
    private readonly Dictionary<ushort, Pending> _pending = new();

    public VirtioBlkDriver(SplitRingDriver ring) => _ring = ring;

    public SplitRingDriver Ring => _ring;
    public int InFlight => _pending.Count;

    /// <summary>Queues a request (not yet published). <paramref name="data"/>: OUT payload, or the size to read.</summary>
    public ushort Submit(uint type, ulong sector, ReadOnlySpan<byte> data = default, int readBytes = 0)
    {
        bool toGuest = type is In or GetId;
        int bytes = toGuest ? readBytes : data.Length;
        int chunk = (int)_ring.Buffers.BufferSize;
        int dataDescs = (bytes + chunk - 1) / chunk;
        var ids = new ushort[dataDescs + 2];
        for (int i = 0; i < ids.Length; i++) ids[i] = _ring.RawTakeDescriptor();

        Span<byte> hdr = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(hdr, type);
        BinaryPrimitives.WriteUInt32LittleEndian(hdr[4..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(hdr[8..], sector);
        _ring.Buffers.Write(_ring.Buffers.Gpa(ids[0]), hdr);
        _ring.RawWriteDesc(ids[0], _ring.Buffers.Gpa(ids[0]), 16, VringDesc.FlagNext, ids[1]);
        for (int d = 0; d < dataDescs; d++)
        {
            ushort id = ids[1 + d];
            int n = Math.Min(chunk, bytes - d * chunk);
            if (!toGuest) _ring.Buffers.Write(_ring.Buffers.Gpa(id), data.Slice(d * chunk, n));
            _ring.RawWriteDesc(id, _ring.Buffers.Gpa(id), (uint)n,
                (ushort)(VringDesc.FlagNext | (toGuest ? VringDesc.FlagWrite : 0)), ids[2 + d]);
        }
        ushort status = ids[^1];
        _ring.Buffers.Write(_ring.Buffers.Gpa(status), new byte[] { 0xFF });
        _ring.RawWriteDesc(status, _ring.Buffers.Gpa(status), 1, VringDesc.FlagWrite, 0);
        _pending.Add(ids[0], new Pending(ids, type, sector, toGuest ? bytes : 0));
        _ring.RawPushAvail(ids[0]);
        return ids[0];
    }

    /// <summary>Publishes the queued requests (avail.idx) and kicks when the device asks for it.</summary>
    public void Publish() => _ring.Publish();

    /// <summary>Every request the device completed since the last call.</summary>
    public List<BlkCompletion> Reap()
    {
        var done = new List<BlkCompletion>();
        while (_ring.LastUsed != _ring.UsedIdx)
        {
            VringUsedElem e = _ring.RawUsed(_ring.LastUsed);
            _ring.ReapTx(1);   // throws when e.Id was not in flight
            Pending p = _pending[(ushort)e.Id];
            _pending.Remove((ushort)e.Id);
            var data = new byte[p.ReadBytes];
            int chunk = (int)_ring.Buffers.BufferSize;
            for (int off = 0, d = 1; off < p.ReadBytes; off += chunk, d++)
                _ring.Buffers.Read(_ring.Buffers.Gpa(p.Ids[d]), data.AsSpan(off, Math.Min(chunk, p.ReadBytes - off)));
            byte status = *_ring.Buffers.Host(p.Ids[^1]);
            foreach (ushort id in p.Ids) _ring.RawRelease(id);
            done.Add(new BlkCompletion((ushort)e.Id, p.Type, p.Sector, status, e.Len, data));
        }
        return done;
    }

    /// <summary>Publishes, then waits for <paramref name="count"/> completions (or fails after <paramref name="timeout"/>).</summary>
    public List<BlkCompletion> WaitFor(int count, TimeSpan timeout)
    {
        Publish();
        var all = new List<BlkCompletion>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (all.Count < count)
        {
            all.AddRange(Reap());
            if (clock.Elapsed > timeout) throw new TimeoutException($"{all.Count} of {count} blk requests completed in {timeout}");
            if (all.Count < count) Thread.Sleep(1);
        }
        return all;
    }

    /// <summary>One request, published and awaited.</summary>
    public BlkCompletion Run(uint type, ulong sector, ReadOnlySpan<byte> data = default, int readBytes = 0)
    {
        Submit(type, sector, data, readBytes);
        return WaitFor(1, TimeSpan.FromSeconds(10))[0];
    }
}
