using HotPath.Engine;
using HotPath.Engine.Crypto;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Direct;
using HotPath.Frontend.Rings;

namespace HotPath.Perf.Rigs;

/// <summary>
/// One in-process virtio-crypto device (DirectAttach over memfd guest memory, <see cref="VhostDevice.Crypto"/> set)
/// whose data queue is a split ring of HotPath's frontend holding <see cref="Burst"/> requests of one size, laid out
/// as Linux's driver does (header, IV, source pages readable; destination pages, status writable). A round re-posts
/// them, fetches, runs the built-in engine and finalizes them, and reaps the used ring: the guest's share is the
/// posting and reaping. The chains are written once; nothing allocates after construction.
/// </summary>
public sealed unsafe class CryptoRig : IDisposable
{
    public const int Burst = 32;
    private const int Page = 4096;

    private readonly Loopback _lb;
    private readonly SplitRingDriver _ring;
    private readonly VhostCrypto _crypto;
    private readonly ushort[] _heads = new ushort[Burst];
    private readonly CryptoRequest[] _ops = new CryptoRequest[Burst];

    public VhostDevice Device => _lb.Device;

    /// <summary><paramref name="chain"/>: AES-128-CBC with HMAC-SHA256 (cipher then hash) instead of AES-128-CBC alone.
    /// <paramref name="zeroCopy"/>: <see cref="VhostCrypto.ZeroCopy"/> (requests of up to a page run in place).</summary>
    public CryptoRig(int size, bool ctr = false, bool chain = false, bool zeroCopy = false)
    {
        _lb = new Loopback(Loopback<SplitRingDriver>.BaseFeatures, ringSize: 1024, bufferSize: Page, maxIndirect: 0);
        _ring = _lb.Rx[0];
        _crypto = new VhostCrypto { ZeroCopy = zeroCopy };
        _lb.Device.Crypto = _crypto;
        byte[] key = new byte[16], authKey = new byte[32];
        new Random(1).NextBytes(key);
        var request = new CryptoSessionRequest
        {
            OpType = chain ? VirtioCrypto.SymOpChaining : VirtioCrypto.SymOpCipher,
            CipherAlgo = ctr ? VirtioCrypto.CipherAesCtr : VirtioCrypto.CipherAesCbc, CipherKeyLen = 16, CipherKeyBuffer = key,
            Direction = VirtioCrypto.OpEncrypt, HashAlgo = chain ? VirtioCrypto.MacHmacSha256 : 0, DigestLen = chain ? 32u : 0,
            AuthKeyLen = chain ? 32u : 0, AuthKeyBuffer = chain ? authKey : default, HashMode = chain ? VirtioCrypto.HashModeAuth : 0,
            ChainOrder = chain ? VirtioCrypto.ChainCipherThenHash : 0,
        };
        if (_crypto.CreateSession(request, out ulong session) != CryptoSessionError.None)
            throw new InvalidOperationException("the rig's session was refused");
        uint digest = chain ? 32u : 0;
        var h = new CryptoDataRequest
        {
            Opcode = VirtioCrypto.CipherEncrypt, SessionId = session, IvLen = 16, SrcDataLen = (uint)size, DstDataLen = (uint)size,
            OpType = chain ? VirtioCrypto.SymOpChaining : VirtioCrypto.SymOpCipher,
            LenToCipher = (uint)size, LenToHash = (uint)size, HashResultLen = digest,
        };
        byte[] data = new byte[Page];
        new Random(size).NextBytes(data);
        for (int r = 0; r < Burst; r++)
        {
            // header + IV in one buffer, the source and destination in pages, the digest and status in one more.
            var parts = new List<(uint Len, bool Write)> { ((uint)(CryptoDataRequest.WireSize + 16), false) };
            for (int off = 0; off < size; off += Page) parts.Add(((uint)Math.Min(Page, size - off), false));
            for (int off = 0; off < size; off += Page) parts.Add(((uint)Math.Min(Page, size - off), true));
            parts.Add((digest + 1, true));
            var ids = new ushort[parts.Count];
            for (int i = 0; i < ids.Length; i++) ids[i] = _ring.RawTakeDescriptor();
            for (int i = 0; i < ids.Length; i++)
            {
                ulong gpa = _ring.Buffers.Gpa(ids[i]);
                if (i == 0) _ring.Buffers.Write(gpa, [.. new ReadOnlySpan<byte>(&h, CryptoDataRequest.WireSize), .. new byte[16]]);
                else if (!parts[i].Write) _ring.Buffers.Write(gpa, data.AsSpan(0, (int)parts[i].Len));
                ushort flags = (ushort)((i + 1 < ids.Length ? VringDesc.FlagNext : 0) | (parts[i].Write ? VringDesc.FlagWrite : 0));
                _ring.RawWriteDesc(ids[i], gpa, parts[i].Len, flags, i + 1 < ids.Length ? ids[i + 1] : (ushort)0);
            }
            _heads[r] = ids[0];
        }
        if (Round() != Burst) throw new InvalidOperationException("the rig's first round did not complete every request");
    }

    /// <summary>Posts the requests, fetches, processes and finalizes them, reaps them; returns how many came back OK.</summary>
    public int Round()
    {
        for (int i = 0; i < Burst; i++) _ring.RawPushAvail(_heads[i]);
        _ring.Publish();
        int n = Device.FetchCryptoRequests(0, _ops);
        _crypto.Process(_ops.AsSpan(0, n));
        Device.FinalizeCryptoRequests(_ops.AsSpan(0, n));
        int ok = 0;
        for (int i = 0; i < n; i++) ok += _ops[i].Status == VirtioCrypto.StatusOk ? 1 : 0;
        _ring.ReapTx(Burst);
        return ok;
    }

    public void Dispose() => _lb.Dispose();
}
