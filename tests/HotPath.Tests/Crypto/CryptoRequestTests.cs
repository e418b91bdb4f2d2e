using HotPath.Engine.Crypto;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Tests.Infrastructure;
using static HotPath.Frontend.VhostUser.CryptoSessions;
using Xunit.Abstractions;
using D = HotPath.Tests.Crypto.VirtioCryptoDriver;

namespace HotPath.Tests.Crypto;

/// <summary>
/// The data-queue request path end to end: requests a virtio-crypto driver builds in memfd guest memory on a split
/// ring driven by HotPath's frontend, fetched, processed by the built-in engine and finalized by HotPath's backend
/// over a real vhost-user connection. Known answers (NIST SP 800-38A through the ring, chains against .NET's AES and
/// HMAC), multi-page and indirect chains, a flood of random requests each checked, and hostile requests: lengths that
/// lie, bad chains, unknown and closed sessions, descriptors and headers rewritten after they were read.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class CryptoRequestTests : IDisposable
{
    private static readonly byte[] Key128 = Convert.FromHexString("2b7e151628aed2a6abf7158809cf4f3c");
    private static readonly byte[] NistPlain = Convert.FromHexString(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
    private static readonly byte[] CbcIv = Convert.FromHexString("000102030405060708090a0b0c0d0e0f");
    private static readonly byte[] CtrIv = Convert.FromHexString("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    private static readonly byte[] AuthKey = Enumerable.Range(7, 40).Select(i => (byte)i).ToArray();

    private readonly CryptoRequestRig _rig = new("crypto-req");
    private readonly ITestOutputHelper _output;

    public CryptoRequestTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _rig.Dispose();

    private FrontendMemory _mem => _rig.Mem;
    private SplitRingDriver _ring => _rig.Ring;
    private CryptoBackend _b => _rig.Backend;
    private D _drv => _rig.Driver;
    private CryptoRequest[] _ops => _rig.Ops;

    private ulong Session(in HotPath.Protocol.Wire.CryptoSessionPayload p) => _rig.Session(p);

    private List<CryptoCompletion> Run(int count) => _rig.Run(count);

    private CryptoCompletion RunOne() => _rig.RunOne();

    /// <summary>Publishes the submitted request and fetches it (the backend holds it, unprocessed).</summary>
    private void FetchOne()
    {
        _drv.Publish();
        Assert.Equal(1, _b.Device.FetchCryptoRequests(0, _ops));
    }

    /// <summary>Processes and finalizes the request <see cref="FetchOne"/> fetched; returns what the guest sees.</summary>
    private CryptoCompletion FinishFetched()
    {
        _b.Crypto.Process(_ops.AsSpan(0, 1));
        Assert.Equal(1, _b.Device.FinalizeCryptoRequests(_ops.AsSpan(0, 1)));
        return Assert.Single(_drv.Reap());
    }

    [Fact]
    public void Nist_cbc_and_ctr_vectors_come_back_through_the_ring()
    {
        ulong cbcEnc = Session(Cipher(AesCbc, Key128, Encrypt));
        ulong ctrDec = Session(Cipher(AesCtr, Key128, Decrypt));
        _drv.Submit(D.Cipher(cbcEnc, true, 16, 64, 64), CbcIv, NistPlain, 64);
        CryptoCompletion c = RunOne();
        Assert.Equal(VirtioCrypto.StatusOk, c.Status);
        Assert.Equal(65u, c.UsedLen);
        Assert.Equal("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
            Convert.ToHexStringLower(c.Dst));

        byte[] ctrCipher = Convert.FromHexString("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee");
        _drv.Submit(D.Cipher(ctrDec, false, 16, 64, 64), CtrIv, ctrCipher, 64, indirect: true);
        c = RunOne();
        Assert.Equal(VirtioCrypto.StatusOk, c.Status);
        Assert.Equal(NistPlain, c.Dst);
        Assert.Equal(2, _b.Crypto.Finished(VirtioCrypto.StatusOk));
    }

    [Theory]
    [InlineData(AesCbc, HmacSha256, 32)]
    [InlineData(AesCtr, HmacSha1, 12)]
    public void A_cipher_and_hmac_chain_matches_dotnet_both_ways(uint cipher, uint mac, int digest)
    {
        var rnd = new Random((int)cipher);
        byte[] plain = new byte[4096 + 512], iv = new byte[16];
        rnd.NextBytes(plain);
        rnd.NextBytes(iv);
        // Encrypt then MAC: [0,64) stays clear (a header), [64, 64+4096) is enciphered, the MAC covers everything.
        ulong enc = Session(Chain(cipher, Key128, CipherThenHash, mac, AuthKey, (uint)digest));
        _drv.Submit(D.Chain(enc, true, plain.Length, digest, 64, 4096, 0, (uint)plain.Length), iv, plain, plain.Length, digest);
        CryptoCompletion c = RunOne();
        Assert.Equal(VirtioCrypto.StatusOk, c.Status);
        byte[] middle = plain[64..(64 + 4096)];
        byte[] enciphered = cipher == AesCbc ? CryptoReference.Cbc(Key128, iv, middle, true) : CryptoReference.Ctr(Key128, iv, middle);
        byte[] expected = [.. plain[..64], .. enciphered, .. plain[(64 + 4096)..]];
        Assert.Equal(expected, c.Dst);
        Assert.Equal(CryptoReference.Mac(mac, AuthKey, expected, digest), c.Digest);
        Assert.Equal((uint)(plain.Length + digest + 1), c.UsedLen);

        // Hash then decrypt: the MAC of what came back, and the plaintext again.
        ulong dec = Session(Chain(cipher, Key128, HashThenCipher, mac, AuthKey, (uint)digest));
        _drv.Submit(D.Chain(dec, false, plain.Length, digest, 64, 4096, 0, (uint)plain.Length), iv, c.Dst, plain.Length, digest, indirect: true);
        CryptoCompletion d = RunOne();
        Assert.Equal(VirtioCrypto.StatusOk, d.Status);
        Assert.Equal(plain, d.Dst);
        Assert.Equal(c.Digest, d.Digest);
    }

    [Fact]
    public void Multi_page_requests_direct_and_indirect_and_a_destination_longer_than_the_source()
    {
        ulong ctr = Session(Cipher(AesCtr, Key128, Encrypt));
        ulong cbc = Session(Cipher(AesCbc, Key128, Decrypt));
        byte[] big = new byte[CryptoQueue.MaxDataBytes];
        new Random(5).NextBytes(big);
        _drv.Submit(D.Cipher(ctr, true, 16, big.Length, big.Length), CtrIv, big, big.Length);
        _drv.Submit(D.Cipher(cbc, false, 16, 8192, 8192), CbcIv, big[..8192], 8192, indirect: true);
        // dst longer than src: the tail is zeroed, and reported written.
        _drv.Submit(D.Cipher(ctr, true, 16, 100, 300), CtrIv, big[..100], 300);
        var done = Run(3).OrderBy(c => c.Dst.Length).ToList();
        Assert.All(done, c => Assert.Equal(VirtioCrypto.StatusOk, c.Status));
        Assert.Equal([.. CryptoReference.Ctr(Key128, CtrIv, big[..100]), .. new byte[200]], done[0].Dst);
        Assert.Equal(301u, done[0].UsedLen);
        Assert.Equal(CryptoReference.Cbc(Key128, CbcIv, big[..8192], false), done[1].Dst);
        Assert.Equal(CryptoReference.Ctr(Key128, CtrIv, big), done[2].Dst);
        Assert.True(_ring.Buffers.GuardsIntact());
    }

    [Fact]
    public void A_64_KiB_request_with_more_buffers_than_it_uses_comes_back_right_as_from_a_linux_guest()
    {
        // Linux 6.1's virtio_crypto under AF_ALG sent 64 KiB as 138 readable and 154 writable descriptors (the
        // request's own bytes first, the status byte last). It was once refused for filling the piece vectors, with
        // its status byte unwritten, and the guest read that as success.
        ulong cbc = Session(Cipher(AesCbc, Key128, Encrypt));
        byte[] big = new byte[CryptoQueue.MaxDataBytes];
        new Random(64).NextBytes(big);
        _drv.Submit(D.Cipher(cbc, true, 16, big.Length, big.Length), CbcIv, big, big.Length, extraReadable: 100, extraWritable: 100);
        CryptoCompletion c = RunOne();
        Assert.Equal(VirtioCrypto.StatusOk, c.Status);
        Assert.Equal((uint)big.Length + 1, c.UsedLen);
        Assert.Equal(CryptoReference.Cbc(Key128, CbcIv, big, true), c.Dst);
        Assert.True(_ring.Buffers.GuardsIntact());
    }

    [Fact]
    public void Data_in_more_pieces_than_the_device_holds_is_refused_in_the_status_byte()
    {
        // 1 KiB in 16-byte descriptors: 66 readable and 65 writable pieces, the data's tail beyond the 64 held.
        ulong cbc = Session(Cipher(AesCbc, Key128, Encrypt));
        long before = _b.Crypto.Finished(VirtioCrypto.StatusBadMsg);
        _drv.Submit(D.Cipher(cbc, true, 16, 1024, 1024), CbcIv, new byte[1024], 1024, chunk: 16);
        CryptoCompletion c = RunOne();
        Assert.Equal(VirtioCrypto.StatusBadMsg, c.Status);
        Assert.Equal(1u, c.UsedLen);
        Assert.All(c.Dst, x => Assert.Equal(D.Unwritten, x));
        Assert.Equal(before + 1, _b.Crypto.Finished(VirtioCrypto.StatusBadMsg));
        // Within the pieces held it is served: 62 of 16 bytes each way.
        _drv.Submit(D.Cipher(cbc, true, 16, 992, 992), CbcIv, NistPlain.Concat(new byte[928]).ToArray(), 992, chunk: 16);
        c = RunOne();
        Assert.Equal(VirtioCrypto.StatusOk, c.Status);
        Assert.Equal(CryptoReference.Cbc(Key128, CbcIv, NistPlain.Concat(new byte[928]).ToArray(), true), c.Dst);
    }

    [Fact]
    public void An_indirect_table_longer_than_the_ring_is_refused_with_badmsg_in_its_last_entry()
    {
        // Linux 6.1 sent a 128 KiB AF_ALG request as one indirect table longer than the ring. The table is refused
        // (SECURITY.md 12), and the refusal goes into the byte the guest reads: the table's last entry, writable and
        // ending the chain. The same table within the ring size is served (its data is only 16 bytes).
        ulong cbc = Session(Cipher(AesCbc, Key128, Encrypt));
        var stats = _b.Device.GetVring(0)!.Stats;
        ulong tooLarge = stats.Drops(DropReason.IndirectTooLarge);
        _drv.SubmitTable(D.Cipher(cbc, true, 16, 16, 16), CbcIv, (int)_ring.Size + 1, _mem);
        CryptoCompletion c = RunOne();
        Assert.Equal(VirtioCrypto.StatusBadMsg, c.Status);
        Assert.Equal(1u, c.UsedLen);
        Assert.All(c.Dst, x => Assert.Equal(D.Unwritten, x));
        Assert.Equal(tooLarge + 1, stats.Drops(DropReason.IndirectTooLarge));

        _drv.SubmitTable(D.Cipher(cbc, true, 16, 16, 16), CbcIv, 3, _mem);
        c = RunOne();
        Assert.Equal(VirtioCrypto.StatusOk, c.Status);
        Assert.Equal(CryptoReference.Cbc(Key128, CbcIv, new byte[16], true), c.Dst);
    }

    [Fact]
    public void A_flood_of_random_requests_all_come_back_right()
    {
        var rnd = new Random(11);
        var sessions = new List<(ulong Id, uint Algo, bool Encrypt)>();
        foreach (uint algo in new[] { AesCbc, AesCtr })
            foreach (bool e in new[] { true, false })
                sessions.Add((Session(Cipher(algo, Key128, e ? Encrypt : Decrypt)), algo, e));
        int total = 0;
        for (int batch = 0; batch < 60; batch++)
        {
            var expect = new Dictionary<ushort, byte[]>();
            int n = rnd.Next(1, 40);
            for (int i = 0; i < n; i++)
            {
                var (id, algo, enc) = sessions[rnd.Next(sessions.Count)];
                int len = algo == AesCbc ? 16 * rnd.Next(1, 200) : rnd.Next(1, 3000);
                byte[] data = new byte[len], iv = new byte[16];
                rnd.NextBytes(data);
                rnd.NextBytes(iv);
                ushort head = _drv.Submit(D.Cipher(id, enc, 16, len, len), iv, data, len, indirect: rnd.Next(2) == 0);
                expect[head] = algo == AesCbc ? CryptoReference.Cbc(Key128, iv, data, enc) : CryptoReference.Ctr(Key128, iv, data);
            }
            foreach (CryptoCompletion c in Run(n))
            {
                Assert.Equal(VirtioCrypto.StatusOk, c.Status);
                Assert.Equal(expect[c.Head], c.Dst);
            }
            total += n;
        }
        Assert.Equal(total, _b.Crypto.Finished(VirtioCrypto.StatusOk));
        Assert.Equal(0, _drv.InFlight);
    }

    public static TheoryData<string, int, byte> LyingRequests() => new()
    {
        // name, case, expected status
        { "src_data_len longer than the readable chain", 0, VirtioCrypto.StatusBadMsg },
        { "dst_data_len longer than the writable chain", 1, VirtioCrypto.StatusBadMsg },
        { "dst_data_len shorter than src_data_len", 2, VirtioCrypto.StatusBadMsg },
        { "iv_len 0", 3, VirtioCrypto.StatusBadMsg },
        { "iv_len 0xFFFFFFFF", 4, VirtioCrypto.StatusBadMsg },
        { "src_data_len 0xFFFFFFF0", 5, VirtioCrypto.StatusBadMsg },
        { "CBC data not a whole number of blocks", 6, VirtioCrypto.StatusBadMsg },
        { "unknown session", 7, VirtioCrypto.StatusInvSess },
        { "hash opcode", 8, VirtioCrypto.StatusNotSupp },
        { "unknown opcode", 9, VirtioCrypto.StatusBadMsg },
        { "op_type none", 10, VirtioCrypto.StatusNotSupp },
        { "decrypt on an encrypt session", 11, VirtioCrypto.StatusBadMsg },
        { "header shorter than 72 bytes", 12, VirtioCrypto.StatusBadMsg },
        { "chain offsets that wrap 32 bits", 13, VirtioCrypto.StatusBadMsg },
        { "chain hash_result_len not the session's", 14, VirtioCrypto.StatusBadMsg },
        { "chain request on a cipher session", 15, VirtioCrypto.StatusBadMsg },
    };

    [Theory]
    [MemberData(nameof(LyingRequests))]
    public void A_request_that_lies_gets_its_status_and_nothing_else_and_the_queue_keeps_serving(string what, int which, byte status)
    {
        ulong cbc = Session(Cipher(AesCbc, Key128, Encrypt));
        ulong chain = Session(Chain(AesCbc, Key128, CipherThenHash, HmacSha256, AuthKey, 32));
        byte[] data = NistPlain;
        var h = D.Cipher(cbc, true, 16, 64, 64);
        int dst = 64, digest = 0;
        byte[] iv = CbcIv;
        switch (which)
        {
            case 0: h.SrcDataLen = 128; h.DstDataLen = 128; dst = 128; break;
            case 1: h.DstDataLen = 65; break;
            case 2: h.DstDataLen = 48; break;
            case 3: h.IvLen = 0; break;
            case 4: h.IvLen = uint.MaxValue; break;
            case 5: h.SrcDataLen = 0xFFFFFFF0; h.DstDataLen = 0xFFFFFFF0; break;
            case 6: h.SrcDataLen = 60; h.DstDataLen = 60; break;
            case 7: h.SessionId = 987654321; break;
            case 8: h.Opcode = VirtioCrypto.ServiceHash << 8; break;
            case 9: h.Opcode = 0x7777; break;
            case 10: h.OpType = VirtioCrypto.SymOpNone; break;
            case 11: h.Opcode = VirtioCrypto.CipherDecrypt; break;
            case 12: break;
            case 13: h = D.Chain(chain, true, 64, 32, 0xFFFFFFF0, 0x20, 0, 64); digest = 32; break;
            case 14: h = D.Chain(chain, true, 64, 20, 0, 64, 0, 64); digest = 20; break;
            case 15: h = D.Chain(cbc, true, 64, 32, 0, 64, 0, 64); digest = 32; break;
        }
        if (which == 12)
        {
            // A 40-byte "header" is all the readable chain has, then the destination and the status.
            ushort head = _drv.Submit(h, default, default, 64);
            VringDesc x = _ring.RawDescriptors[head];
            _ring.RawWriteDesc(head, x.Addr, 40, x.Flags, x.Next);
        }
        else _drv.Submit(h, iv, data, dst, digest);
        long before = _b.Crypto.Finished(status);
        CryptoCompletion c = RunOne();
        Assert.True(status == c.Status, $"{what}: status {c.Status}, expected {status}");
        Assert.Equal(1u, c.UsedLen);
        Assert.All(c.Dst, x => Assert.Equal(D.Unwritten, x));   // not a byte of output
        Assert.Equal(before + 1, _b.Crypto.Finished(status));
        // The queue keeps serving.
        _drv.Submit(D.Cipher(cbc, true, 16, 64, 64), CbcIv, NistPlain, 64);
        Assert.Equal(VirtioCrypto.StatusOk, RunOne().Status);
        Assert.True(_ring.Buffers.GuardsIntact());
    }

    [Fact]
    public void Bad_chains_are_returned_with_nothing_written_and_counted()
    {
        ulong cbc = Session(Cipher(AesCbc, Key128, Encrypt));
        var stats = _b.Device.GetVring(0)!.Stats;
        ulong wrongDir = stats.Drops(DropReason.WrongDirection), tooShort = stats.Drops(DropReason.ChainTooShort),
            loop = stats.Drops(DropReason.ChainTooLong);

        // A readable descriptor after the writable ones.
        ushort a = _drv.Submit(D.Cipher(cbc, true, 16, 64, 64), CbcIv, NistPlain, 64);
        RewriteFlagsOfLast(a, 0);
        // No writable part at all.
        _drv.Submit(D.Cipher(cbc, true, 16, 64, 0), CbcIv, NistPlain, 0, status: false);
        // Loops: the last (writable) descriptor points at itself, with length 0 and with length 1 (the piece vector
        // fills first; the walk goes on, checking what it no longer holds): the chain bound stops both.
        ushort l = _drv.Submit(D.Cipher(cbc, true, 16, 64, 64), CbcIv, NistPlain, 64);
        ushort last = LastOf(l);
        _ring.RawWriteDesc(last, _ring.RawDescriptors[last].Addr, 0, VringDesc.FlagWrite | VringDesc.FlagNext, last);
        ushort l1 = _drv.Submit(D.Cipher(cbc, true, 16, 64, 64), CbcIv, NistPlain, 64);
        ushort last1 = LastOf(l1);
        _ring.RawWriteDesc(last1, _ring.RawDescriptors[last1].Addr, 1, VringDesc.FlagWrite | VringDesc.FlagNext, last1);
        var done = Run(4);
        Assert.All(done, c => Assert.Equal(0u, c.UsedLen));
        Assert.All(done, c => Assert.Equal(D.Unwritten, c.Status));
        Assert.Equal(wrongDir + 1, stats.Drops(DropReason.WrongDirection));
        Assert.Equal(tooShort + 1, stats.Drops(DropReason.ChainTooShort));
        Assert.Equal(loop + 2, stats.Drops(DropReason.ChainTooLong));
        _drv.Submit(D.Cipher(cbc, true, 16, 64, 64), CbcIv, NistPlain, 64);
        Assert.Equal(VirtioCrypto.StatusOk, RunOne().Status);
    }

    private unsafe ushort LastOf(ushort head)
    {
        ushort d = head;
        while ((_ring.RawDescriptors[d].Flags & VringDesc.FlagNext) != 0) d = _ring.RawDescriptors[d].Next;
        return d;
    }

    private unsafe void RewriteFlagsOfLast(ushort head, ushort flags)
    {
        // Make the status byte readable: a readable descriptor after the writable destination.
        ushort last = LastOf(head);
        VringDesc x = _ring.RawDescriptors[last];
        _ring.RawWriteDesc(last, x.Addr, x.Len, flags, x.Next);
    }

    [Fact]
    public unsafe void Rewriting_the_header_descriptors_and_data_after_the_fetch_changes_nothing()
    {
        ulong ctr = Session(Cipher(AesCtr, Key128, Encrypt));
        byte[] data = new byte[3 * 4096];
        new Random(3).NextBytes(data);
        ushort head = _drv.Submit(D.Cipher(ctr, true, 16, data.Length, data.Length), CtrIv, data, data.Length);
        FetchOne();
        // The guest rewrites everything it gave the device: a header claiming huge lengths and another session,
        // every descriptor pointing outside memory with huge lengths, the IV and the source.
        var evil = D.Cipher(999, false, 0xFFFF, int.MaxValue, int.MaxValue);
        _ring.Buffers.Write(_drv.BufferGpa(head, 0), new ReadOnlySpan<byte>(&evil, CryptoDataRequest.WireSize));
        _ring.Buffers.Write(_drv.BufferGpa(head, 1), new byte[16]);
        _ring.Buffers.Write(_drv.BufferGpa(head, 2), new byte[4096]);
        for (ushort d = head, i = 0; i < 8; i++)
        {
            VringDesc x = _ring.RawDescriptors[d];
            _ring.RawWriteDesc(d, 0xFFFF_FFFF_0000_0000, uint.MaxValue, x.Flags, x.Next);
            if ((x.Flags & VringDesc.FlagNext) == 0) break;
            d = x.Next;
        }
        CryptoCompletion c = FinishFetched();
        Assert.Equal(VirtioCrypto.StatusOk, c.Status);
        Assert.Equal(CryptoReference.Ctr(Key128, CtrIv, data), c.Dst);   // the request as it was fetched
        Assert.True(_ring.Buffers.GuardsIntact());
    }

    [Fact]
    public void A_guest_rewriting_headers_and_descriptors_while_the_device_reads_them_gets_right_answers_or_clean_refusals()
    {
        ulong ctr = Session(Cipher(AesCtr, Key128, Encrypt));
        var rnd = new Random(21);
        int touchedTotal = 0, refused = 0;
        for (int batch = 0; batch < 30; batch++)
        {
            var expect = new Dictionary<ushort, byte[]>();
            var heads = new List<ushort>();
            for (int i = 0; i < 24; i++)
            {
                byte[] data = new byte[rnd.Next(1, 9000)];
                rnd.NextBytes(data);
                ushort h = _drv.Submit(D.Cipher(ctr, true, 16, data.Length, data.Length), CtrIv, data, data.Length);
                heads.Add(h);
                expect[h] = CryptoReference.Ctr(Key128, CtrIv, data);
            }
            // The rewriter only touches the chain it picked (its header bytes, and its descriptors' lengths (never
            // longer), flags and next fields within the chain), so requests it did not pick must come back exact.
            var touched = new System.Collections.Concurrent.ConcurrentDictionary<ushort, bool>();
            var ids = heads.ToDictionary(h => h, h => _drv.Descriptors(h).ToArray());
            using var stop = new CancellationTokenSource();
            var rewriter = new Thread(() =>
            {
                var r = new Random(batch);
                while (!stop.IsCancellationRequested)
                {
                    ushort h = heads[r.Next(heads.Count)];
                    if (r.Next(3) != 0) continue;   // leave most chains alone
                    touched[h] = true;
                    ushort[] chain = ids[h];
                    ushort d = chain[r.Next(chain.Length)];
                    VringDesc x = _ring.RawDescriptors[d];
                    switch (r.Next(4))
                    {
                        case 0:
                            _ring.Buffers.Write(_ring.Buffers.Gpa(chain[0]) + (ulong)r.Next(0, 68), BitConverter.GetBytes(r.Next()));
                            break;
                        case 1: _ring.RawWriteDesc(d, x.Addr, (uint)r.Next(0, (int)x.Len + 1), x.Flags, x.Next); break;
                        case 2: _ring.RawWriteDesc(d, x.Addr, x.Len, (ushort)(x.Flags ^ (r.Next(2) == 0 ? VringDesc.FlagWrite : VringDesc.FlagNext)), x.Next); break;
                        default: _ring.RawWriteDesc(d, x.Addr, x.Len, x.Flags, chain[r.Next(chain.Length)]); break;
                    }
                }
            });
            rewriter.Start();
            List<CryptoCompletion> done;
            try
            {
                done = Run(heads.Count);
            }
            finally
            {
                stop.Cancel();
                rewriter.Join();
            }
            foreach (CryptoCompletion c in done)
            {
                if (touched.ContainsKey(c.Head))
                {
                    if (c.Status != VirtioCrypto.StatusOk) refused++;
                    continue;
                }
                Assert.Equal(VirtioCrypto.StatusOk, c.Status);
                Assert.Equal(expect[c.Head], c.Dst);
            }
            touchedTotal += touched.Count;
        }
        Assert.True(touchedTotal > 100 && refused > 0, $"{touchedTotal} chains rewritten, {refused} refused");
        Assert.True(_ring.Buffers.GuardsIntact());
        _drv.Submit(D.Cipher(ctr, true, 16, 64, 64), CtrIv, NistPlain, 64);
        Assert.Equal(CryptoReference.Ctr(Key128, CtrIv, NistPlain), RunOne().Dst);
    }

    [Fact]
    public void Closing_a_session_in_use_lets_its_requests_finish_and_refuses_the_next()
    {
        ulong cbc = Session(Cipher(AesCbc, Key128, Encrypt));
        _drv.Submit(D.Cipher(cbc, true, 16, 64, 64), CbcIv, NistPlain, 64);
        FetchOne();
        _b.Frontend.CloseCryptoSession(cbc);   // the control thread closes it while the request is in flight
        Assert.Equal(0, _b.Crypto.Sessions.Count);
        CryptoCompletion c = FinishFetched();
        Assert.Equal(VirtioCrypto.StatusOk, c.Status);
        Assert.Equal(CryptoReference.Cbc(Key128, CbcIv, NistPlain, true), c.Dst);
        _drv.Submit(D.Cipher(cbc, true, 16, 64, 64), CbcIv, NistPlain, 64);
        Assert.Equal(VirtioCrypto.StatusInvSess, RunOne().Status);
    }

    [Fact]
    public void Requests_fetched_before_the_ring_stopped_are_dropped_unwritten_and_the_restarted_queue_goes_on()
    {
        ulong cbc = Session(Cipher(AesCbc, Key128, Encrypt));
        _drv.Submit(D.Cipher(cbc, true, 16, 64, 64), CbcIv, NistPlain, 64);
        FetchOne();
        ushort used = _ring.UsedIdx;
        // The frontend stops the ring while the request is being processed (as QEMU does at VM stop).
        uint stoppedAt = _b.Frontend.GetVringBase(0);
        Assert.Equal(1u, stoppedAt);   // the fetched request counts as consumed, as in DPDK
        _b.Crypto.Process(_ops.AsSpan(0, 1));
        Assert.Equal(1, _b.Device.FinalizeCryptoRequests(_ops.AsSpan(0, 1)));
        Assert.Equal(used, _ring.UsedIdx);   // nothing returned to a stopped ring
        Assert.Equal(0, _b.Crypto.InFlight(0));
        Assert.Equal(0, _b.Crypto.Finished(VirtioCrypto.StatusOk));
        // Restarted from the used index the guest sees (as QEMU restores a ring whose requests were not all
        // completed), the dropped request is fetched again, and it and a new one complete.
        _b.Frontend.SetVringBase(0, used);
        _b.Frontend.SetVringAddr(0, _ring.Areas, _mem);
        _b.Frontend.SetVringKick(0, _ring.KickFd);
        _b.Frontend.SetVringCall(0, _ring.CallFd);
        _b.Frontend.SetVringEnable(0, true);
        Assert.True(SpinWait.SpinUntil(() => _b.Device.GetVring(0)!.IsReady, CryptoBackend.Wait));
        _drv.Submit(D.Cipher(cbc, true, 16, 64, 64), CbcIv, NistPlain, 64);
        var both = Run(2);
        Assert.All(both, c => Assert.Equal(VirtioCrypto.StatusOk, c.Status));
        Assert.All(both, c => Assert.Equal(CryptoReference.Cbc(Key128, CbcIv, NistPlain, true), c.Dst));
    }

    [Fact]
    public void Fetch_process_and_finalize_allocate_nothing_per_request()
    {
        ulong cbc = Session(Cipher(AesCbc, Key128, Encrypt));
        ulong chain = Session(Chain(AesCtr, Key128, CipherThenHash, HmacSha256, AuthKey, 32));
        byte[] data = new byte[1024];
        void Submit()
        {
            for (int i = 0; i < 8; i++)
            {
                _drv.Submit(D.Cipher(cbc, true, 16, data.Length, data.Length), CbcIv, data, data.Length);
                _drv.Submit(D.Chain(chain, true, data.Length, 32, 0, 1024, 0, 1024), CtrIv, data, data.Length, 32, indirect: true);
            }
            _drv.Publish();
        }
        long allocated = 0;
        int served = 0;
        for (int round = 0; round < 12; round++)
        {
            Submit();
            long before = GC.GetAllocatedBytesForCurrentThread();
            int n = _b.Device.FetchCryptoRequests(0, _ops);
            _b.Crypto.Process(_ops.AsSpan(0, n));
            int done = _b.Device.FinalizeCryptoRequests(_ops.AsSpan(0, n));
            if (round >= 2) { allocated += GC.GetAllocatedBytesForCurrentThread() - before; served += done; }
            Assert.Equal(16, done);
            Assert.All(_drv.Reap(), c => Assert.Equal(VirtioCrypto.StatusOk, c.Status));
        }
        Assert.Equal(160, served);
        Assert.Equal(0, allocated);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(1024)]
    [InlineData(4096)]
    public void The_backend_cost_per_request_is_measured_and_allocates_nothing(int size)
    {
        ulong cbc = Session(Cipher(AesCbc, Key128, Encrypt));
        ulong ctr = Session(Cipher(AesCtr, Key128, Encrypt));
        ulong chain = Session(Chain(AesCbc, Key128, CipherThenHash, HmacSha256, AuthKey, 32));
        byte[] data = new byte[size];
        new Random(size).NextBytes(data);
        foreach (var (name, session) in new[] { ("AES-CBC enc", cbc), ("AES-CTR", ctr), ("CBC+HMAC-SHA256", chain) })
        {
            bool chained = session == chain;
            var clock = new System.Diagnostics.Stopwatch();
            long allocated = 0;
            int served = 0;
            byte[] expected = CryptoReference.Cbc(Key128, CbcIv, data, true);
            for (int round = 0; round < 40; round++)
            {
                for (int i = 0; i < CryptoQueue.Slots; i++)
                {
                    if (chained) _drv.Submit(D.Chain(session, true, size, 32, 0, (uint)size, 0, (uint)size), CbcIv, data, size, 32);
                    else _drv.Submit(D.Cipher(session, true, 16, size, size), session == ctr ? CtrIv : CbcIv, data, size);
                }
                _drv.Publish();
                long before = GC.GetAllocatedBytesForCurrentThread();
                if (round >= 5) clock.Start();
                int n = _b.Device.FetchCryptoRequests(0, _ops);
                _b.Crypto.Process(_ops.AsSpan(0, n));
                int done = _b.Device.FinalizeCryptoRequests(_ops.AsSpan(0, n));
                clock.Stop();
                if (round >= 5) { allocated += GC.GetAllocatedBytesForCurrentThread() - before; served += done; }
                Assert.Equal(CryptoQueue.Slots, done);
                foreach (CryptoCompletion c in _drv.Reap())
                {
                    Assert.Equal(VirtioCrypto.StatusOk, c.Status);
                    if (session != ctr) Assert.Equal(expected, c.Dst);
                }
            }
            Assert.Equal(0, allocated);
            double ns = clock.Elapsed.TotalNanoseconds / served;
            _output.WriteLine($"{name,-16} {size,5} B: {ns / 1000:0.00} us per request (fetch+process+finalize, one thread), " +
                $"{1e9 / ns / 1000:0} k requests/s, {size * 1e9 / ns / 1e6:0} MB/s, 0 B allocated");
        }
    }
}
