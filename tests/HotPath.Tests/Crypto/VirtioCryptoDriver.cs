using HotPath.Engine.Crypto;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Crypto;

/// <summary>A finished virtio-crypto request: status byte, used length, the destination and digest as the guest sees them.</summary>
internal sealed record CryptoCompletion(ushort Head, byte Status, uint UsedLen, byte[] Dst, byte[] Digest);

/// <summary>
/// A small virtio-crypto driver (virtio 1.2 section 5.9.7) on a <see cref="SplitRingDriver"/>'s raw descriptors, laid
/// out as Linux's virtio_crypto driver does: a readable 72-byte virtio_crypto_op_data_req, the IV, the source data in
/// descriptor-buffer-sized pieces, then writable destination pieces, the digest, and the one-byte status. The header
/// is written as given, so a test can make it lie about every length; the chain holds what the test passes. Chains
/// may be direct or behind one indirect descriptor. Completions are matched by head.
/// </summary>
internal sealed unsafe class VirtioCryptoDriver
{
    public const byte Unwritten = 0xEE;

    private sealed record Pending(ushort[] Ids, List<(ulong Gpa, int Len)> Dst, (ulong Gpa, int Len) Digest, ulong StatusGpa);

    private readonly SplitRingDriver _ring;
    private readonly Dictionary<ushort, Pending> _pending = new();

    public VirtioCryptoDriver(SplitRingDriver ring) => _ring = ring;

    public SplitRingDriver Ring => _ring;
    public int InFlight => _pending.Count;

    public static CryptoDataRequest Cipher(ulong session, bool encrypt, int ivLen, int srcLen, int dstLen) => new()
    {
        Opcode = encrypt ? VirtioCrypto.CipherEncrypt : VirtioCrypto.CipherDecrypt, SessionId = session,
        IvLen = (uint)ivLen, SrcDataLen = (uint)srcLen, DstDataLen = (uint)dstLen, OpType = VirtioCrypto.SymOpCipher,
    };

    public static CryptoDataRequest Chain(ulong session, bool encrypt, int srcLen, int hashLen, uint cipherStart, uint lenToCipher,
        uint hashStart, uint lenToHash) => new()
    {
        Opcode = encrypt ? VirtioCrypto.CipherEncrypt : VirtioCrypto.CipherDecrypt, SessionId = session, IvLen = 16,
        SrcDataLen = (uint)srcLen, DstDataLen = (uint)srcLen, CipherStartSrcOffset = cipherStart, LenToCipher = lenToCipher,
        HashStartSrcOffset = hashStart, LenToHash = lenToHash, HashResultLen = (uint)hashLen, OpType = VirtioCrypto.SymOpChaining,
    };

    /// <summary>
    /// Queues a request (not yet published): <paramref name="header"/> as is, then <paramref name="iv"/> and
    /// <paramref name="src"/>, then <paramref name="dstBytes"/> + <paramref name="digestBytes"/> writable bytes and
    /// the status byte (when <paramref name="status"/>). Source and destination go in pieces of <paramref name="chunk"/>
    /// bytes (default: a descriptor buffer). <paramref name="extraReadable"/> and <paramref name="extraWritable"/> add
    /// that many more whole buffers after the source and after the digest, which the request does not use (a Linux
    /// guest's large AF_ALG requests carry hundreds of KiB of them). Returns the head.
    /// </summary>
    public ushort Submit(in CryptoDataRequest header, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> src, int dstBytes,
        int digestBytes = 0, bool indirect = false, bool status = true, int extraReadable = 0, int extraWritable = 0, int chunk = 0)
    {
        int whole = (int)_ring.Buffers.BufferSize;
        if (chunk == 0) chunk = whole;
        var pieces = new List<(byte[]? Data, int Len, bool Write)>();
        CryptoDataRequest h = header;
        pieces.Add((new ReadOnlySpan<byte>(&h, CryptoDataRequest.WireSize).ToArray(), CryptoDataRequest.WireSize, false));
        if (!iv.IsEmpty) pieces.Add((iv.ToArray(), iv.Length, false));
        for (int off = 0; off < src.Length; off += chunk) pieces.Add((src.Slice(off, Math.Min(chunk, src.Length - off)).ToArray(), Math.Min(chunk, src.Length - off), false));
        for (int i = 0; i < extraReadable; i++) pieces.Add((new byte[whole], whole, false));
        int firstDst = pieces.Count;
        for (int off = 0; off < dstBytes; off += chunk) pieces.Add((null, Math.Min(chunk, dstBytes - off), true));
        int digest = pieces.Count;
        if (digestBytes > 0) pieces.Add((null, digestBytes, true));
        for (int i = 0; i < extraWritable; i++) pieces.Add((null, whole, true));
        if (status) pieces.Add((null, 1, true));

        var ids = new ushort[indirect ? pieces.Count + 1 : pieces.Count];
        for (int i = 0; i < ids.Length; i++) ids[i] = _ring.RawTakeDescriptor();
        int bufBase = indirect ? 1 : 0;   // with an indirect table the head only points at it
        var dst = new List<(ulong, int)>();
        (ulong, int) dig = default;
        ulong statusGpa = 0;
        for (int i = 0; i < pieces.Count; i++)
        {
            ushort id = ids[bufBase + i];
            ulong gpa = _ring.Buffers.Gpa(id);
            var (data, len, write) = pieces[i];
            if (data != null) _ring.Buffers.Write(gpa, data);
            else _ring.Buffers.Write(gpa, Enumerable.Repeat(Unwritten, len).ToArray());
            ushort flags = (ushort)((i + 1 < pieces.Count ? VringDesc.FlagNext : 0) | (write ? VringDesc.FlagWrite : 0));
            if (indirect) _ring.RawWriteIndirect(ids[0], i, gpa, (uint)len, flags, (ushort)(i + 1));
            else _ring.RawWriteDesc(id, gpa, (uint)len, flags, i + 1 < pieces.Count ? ids[i + 1] : (ushort)0);
            if (i >= firstDst && i < digest) dst.Add((gpa, len));
            else if (i == digest && digestBytes > 0) dig = (gpa, len);
            if (status && i == pieces.Count - 1) statusGpa = gpa;
        }
        if (indirect)
            _ring.RawWriteDesc(ids[0], _ring.RawWriteIndirect(ids[0], 0, _ring.Buffers.Gpa(ids[1]), (uint)pieces[0].Len,
                (ushort)(pieces.Count > 1 ? VringDesc.FlagNext : 0), 1), (uint)(16 * pieces.Count), VringDesc.FlagIndirect, 0);
        _pending.Add(ids[0], new Pending(ids, dst, dig, statusGpa));
        _ring.RawPushAvail(ids[0]);
        return ids[0];
    }

    /// <summary>
    /// Queues a request as one indirect table of <paramref name="entries"/> entries laid out in table order, as Linux
    /// does for its largest requests (even beyond the ring size, which the spec forbids): the header, the IV and 16 zero bytes of source, then
    /// writable 16-byte pieces of one destination buffer and the status byte last. The table lives in
    /// <paramref name="mem"/>. Returns the head.
    /// </summary>
    public ushort SubmitTable(in CryptoDataRequest header, ReadOnlySpan<byte> iv, int entries, FrontendMemory mem)
    {
        ushort head = _ring.RawTakeDescriptor(), hdr = _ring.RawTakeDescriptor(), dst = _ring.RawTakeDescriptor(),
            status = _ring.RawTakeDescriptor();
        CryptoDataRequest h = header;
        byte[] block = [.. new ReadOnlySpan<byte>(&h, CryptoDataRequest.WireSize), .. iv, .. new byte[16]];
        _ring.Buffers.Write(_ring.Buffers.Gpa(hdr), block);
        _ring.Buffers.Write(_ring.Buffers.Gpa(dst), Enumerable.Repeat(Unwritten, 16).ToArray());
        _ring.Buffers.Write(_ring.Buffers.Gpa(status), [Unwritten]);
        ulong table = mem.Alloc((ulong)entries * 16, 16);
        var t = (VringDesc*)mem.Host(table);
        t[0] = new VringDesc { Addr = _ring.Buffers.Gpa(hdr), Len = (uint)block.Length, Flags = VringDesc.FlagNext, Next = 1 };
        for (int i = 1; i < entries - 1; i++)
            t[i] = new VringDesc { Addr = _ring.Buffers.Gpa(dst), Len = 16, Flags = VringDesc.FlagNext | VringDesc.FlagWrite, Next = (ushort)(i + 1) };
        t[entries - 1] = new VringDesc { Addr = _ring.Buffers.Gpa(status), Len = 1, Flags = VringDesc.FlagWrite };
        _ring.RawWriteDesc(head, table, (uint)entries * 16, VringDesc.FlagIndirect, 0);
        _pending.Add(head, new Pending([head, hdr, dst, status], [(_ring.Buffers.Gpa(dst), 16)], default, _ring.Buffers.Gpa(status)));
        _ring.RawPushAvail(head);
        return head;
    }

    /// <summary>The descriptor ids of a queued request, head first (its buffers in chain order).</summary>
    public IReadOnlyList<ushort> Descriptors(ushort head) => _pending[head].Ids;

    /// <summary>The guest memory behind one descriptor of a queued request (to rewrite it while the device reads).</summary>
    public ulong BufferGpa(ushort head, int piece) => _ring.Buffers.Gpa(_pending[head].Ids[piece]);

    public void Publish() => _ring.Publish();

    /// <summary>Every request the device completed since the last call.</summary>
    public List<CryptoCompletion> Reap()
    {
        var done = new List<CryptoCompletion>();
        while (_ring.LastUsed != _ring.UsedIdx)
        {
            VringUsedElem e = _ring.RawUsed(_ring.LastUsed);
            _ring.ReapTx(1);   // throws when e.Id was not in flight
            Pending p = _pending[(ushort)e.Id];
            _pending.Remove((ushort)e.Id);
            var dst = new byte[p.Dst.Sum(d => d.Len)];
            int off = 0;
            foreach (var (gpa, len) in p.Dst)
            {
                _ring.Buffers.Read(gpa, dst.AsSpan(off, len));
                off += len;
            }
            var digest = new byte[p.Digest.Len];
            if (p.Digest.Len > 0) _ring.Buffers.Read(p.Digest.Gpa, digest);
            byte status = Unwritten;
            if (p.StatusGpa != 0)
            {
                var one = new byte[1];
                _ring.Buffers.Read(p.StatusGpa, one);
                status = one[0];
            }
            foreach (ushort id in p.Ids) _ring.RawRelease(id);
            done.Add(new CryptoCompletion((ushort)e.Id, status, e.Len, dst, digest));
        }
        return done;
    }
}
