using HotPath.Engine.Crypto;
using HotPath.Frontend.Rings;
using HotPath.Tests.Infrastructure;
using static HotPath.Frontend.VhostUser.CryptoSessions;
using D = HotPath.Tests.Crypto.VirtioCryptoDriver;

namespace HotPath.Tests.Crypto;

/// <summary>
/// Zero-copy (<see cref="VhostCrypto.ZeroCopy"/>, hp_vhost_crypto_set_zero_copy): cipher-only requests whose source
/// and destination each lie in one run of host memory are run by finalize from the guest's source into its
/// destination; the rest are copied as always. Both modes give the same answers; a guest rewriting its request after
/// the fetch changes only its own output; an application engine cannot take a zero-copy request.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class CryptoZeroCopyTests : IDisposable
{
    private static readonly byte[] Key = Convert.FromHexString("2b7e151628aed2a6abf7158809cf4f3c");
    private static readonly byte[] AuthKey = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private readonly CryptoRequestRig _rig = new("crypto-zc");

    public void Dispose() => _rig.Dispose();

    private SplitRingDriver _ring => _rig.Ring;
    private CryptoBackend _b => _rig.Backend;
    private D _drv => _rig.Driver;
    private CryptoRequest[] _ops => _rig.Ops;

    private ulong Session(in HotPath.Protocol.Wire.CryptoSessionPayload p) => _rig.Session(p);

    private List<CryptoCompletion> Run(int count) => _rig.Run(count);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Both_modes_give_the_same_answers_and_zero_copy_takes_the_requests_that_allow_it(bool zeroCopy)
    {
        Assert.True(VhostCrypto.ZeroCopyAvailable);
        _b.Crypto.ZeroCopy = zeroCopy;
        ulong cbcEnc = Session(Cipher(AesCbc, Key, Encrypt)), cbcDec = Session(Cipher(AesCbc, Key, Decrypt));
        ulong ctr = Session(Cipher(AesCtr, Key, Encrypt));
        ulong chain = Session(Chain(AesCbc, Key, CipherThenHash, HmacSha256, AuthKey, 32));
        var rnd = new Random(4);
        byte[] data = new byte[8192], iv = new byte[16];
        rnd.NextBytes(data);
        rnd.NextBytes(iv);
        var expect = new Dictionary<ushort, byte[]>
        {
            // One page each way: in place when asked.
            [_drv.Submit(D.Cipher(cbcEnc, true, 16, 4096, 4096), iv, data[..4096], 4096)] = CryptoReference.Cbc(Key, iv, data[..4096], true),
            // 100 bytes into a 300-byte destination: in place, the tail zeroed.
            [_drv.Submit(D.Cipher(ctr, true, 16, 100, 300), iv, data[..100], 300)] = [.. CryptoReference.Ctr(Key, iv, data[..100]), .. new byte[200]],
            [_drv.Submit(D.Cipher(cbcDec, false, 16, 4096, 4096), iv, data[4096..], 4096)] = CryptoReference.Cbc(Key, iv, data[4096..], false),
            // Two pages that are not next to each other in the host: copied.
            [_drv.Submit(D.Cipher(cbcDec, false, 16, 8192, 8192), iv, data, 8192)] = CryptoReference.Cbc(Key, iv, data, false),
        };
        // A chain: copied.
        ushort c = _drv.Submit(D.Chain(chain, true, 1024, 32, 0, 1024, 0, 1024), iv, data[..1024], 1024, 32);
        byte[] chainOut = CryptoReference.Cbc(Key, iv, data[..1024], true);
        long before = _b.Crypto.ZeroCopied;
        foreach (CryptoCompletion done in Run(5))
        {
            Assert.Equal(VirtioCrypto.StatusOk, done.Status);
            Assert.Equal(done.Head == c ? chainOut : expect[done.Head], done.Dst);
            Assert.Equal((uint)(done.Dst.Length + done.Digest.Length + 1), done.UsedLen);
            if (done.Head == c) Assert.Equal(CryptoReference.Mac(HmacSha256, AuthKey, chainOut, 32), done.Digest);
        }
        Assert.Equal(before + (zeroCopy ? 3 : 0), _b.Crypto.ZeroCopied);
        Assert.True(_ring.Buffers.GuardsIntact());
    }

    [Fact]
    public void Zero_copy_requests_allocate_nothing()
    {
        _b.Crypto.ZeroCopy = true;
        ulong ctr = Session(Cipher(AesCtr, Key, Encrypt));
        byte[] data = new byte[1024], iv = new byte[16];
        long allocated = 0;
        for (int round = 0; round < 10; round++)
        {
            for (int i = 0; i < 16; i++) _drv.Submit(D.Cipher(ctr, true, 16, data.Length, data.Length), iv, data, data.Length);
            _drv.Publish();
            long before = GC.GetAllocatedBytesForCurrentThread();
            int n = _b.Device.FetchCryptoRequests(0, _ops);
            _b.Crypto.Process(_ops.AsSpan(0, n));
            int done = _b.Device.FinalizeCryptoRequests(_ops.AsSpan(0, n));
            if (round >= 2) allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(16, done);
            Assert.All(_drv.Reap(), r => Assert.Equal(CryptoReference.Ctr(Key, iv, data), r.Dst));
        }
        Assert.Equal(160, _b.Crypto.ZeroCopied);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void A_guest_rewriting_its_request_after_the_fetch_changes_only_its_own_output()
    {
        _b.Crypto.ZeroCopy = true;
        ulong ctr = Session(Cipher(AesCtr, Key, Encrypt));
        byte[] data = new byte[4096], other = new byte[4096], iv = new byte[16];
        new Random(8).NextBytes(data);
        new Random(9).NextBytes(other);
        ushort head = _drv.Submit(D.Cipher(ctr, true, 16, data.Length, data.Length), iv, data, data.Length);
        _drv.Publish();
        Assert.Equal(1, _b.Device.FetchCryptoRequests(0, _ops));
        // After the fetch: a header with huge lengths and another session, another IV, other source data, and
        // descriptors pointing outside memory. Lengths, IV and buffers were taken at the fetch; only the source bytes
        // are read in place, so the output is the cipher of what the source holds now, and nothing else changes.
        var evil = D.Cipher(999, false, 0xFFFF, int.MaxValue, int.MaxValue);
        _ring.Buffers.Write(_drv.BufferGpa(head, 0), new ReadOnlySpan<byte>(&evil, CryptoDataRequest.WireSize));
        _ring.Buffers.Write(_drv.BufferGpa(head, 1), Enumerable.Repeat((byte)0x5A, 16).ToArray());
        _ring.Buffers.Write(_drv.BufferGpa(head, 2), other);
        foreach (ushort d in _drv.Descriptors(head))
        {
            var x = _ring.RawDescriptors[d];
            _ring.RawWriteDesc(d, 0xFFFF_FFFF_0000_0000, uint.MaxValue, x.Flags, x.Next);
        }
        _b.Crypto.Process(_ops.AsSpan(0, 1));
        Assert.Equal(1, _b.Device.FinalizeCryptoRequests(_ops.AsSpan(0, 1)));
        CryptoCompletion c = Assert.Single(_drv.Reap());
        Assert.Equal(VirtioCrypto.StatusOk, c.Status);
        Assert.Equal((uint)data.Length + 1, c.UsedLen);
        Assert.Equal(CryptoReference.Ctr(Key, iv, other), c.Dst);
        Assert.True(_ring.Buffers.GuardsIntact());
    }

    [Fact]
    public void An_application_engine_cannot_take_a_zero_copy_request_and_one_left_unprocessed_fails()
    {
        _b.Crypto.ZeroCopy = true;
        ulong cbc = Session(Cipher(AesCbc, Key, Encrypt));
        _drv.Submit(D.Cipher(cbc, true, 16, 64, 64), new byte[16], new byte[64], 64);
        _drv.Publish();
        Assert.Equal(1, _b.Device.FetchCryptoRequests(0, _ops));
        Assert.Throws<InvalidOperationException>(() => _b.Crypto.Buffers(_ops[0], out _, out _, out _));
        // Finalized without Process: nobody ran it, so ERR and nothing else written.
        Assert.Equal(1, _b.Device.FinalizeCryptoRequests(_ops.AsSpan(0, 1)));
        CryptoCompletion c = Assert.Single(_drv.Reap());
        Assert.Equal(VirtioCrypto.StatusErr, c.Status);
        Assert.Equal(1u, c.UsedLen);
        Assert.All(c.Dst, x => Assert.Equal(D.Unwritten, x));
        Assert.Equal(0, _b.Crypto.ZeroCopied);
    }
}
