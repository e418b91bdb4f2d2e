using System.Diagnostics;
using System.Security.Cryptography;
using HotPath.Engine.Crypto;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.Cli;

/// <summary>
/// <c>hp-frontend --crypto</c>: HotPath's frontend as QEMU's cryptodev-vhost-user plus a guest's virtio-crypto driver,
/// to check a vhost-user crypto backend (tools/examples/hp-crypto-mini, hp-crypto) for real: it negotiates
/// CRYPTO_SESSION, creates sessions, posts requests laid out as Linux's driver does (header, IV and source pages
/// readable; destination pages and status writable) on a split data queue and checks every answer: NIST SP 800-38A
/// AES-128-CBC and CTR vectors, a random multi-page CBC round trip and an AES-CBC + HMAC-SHA256 chain against .NET,
/// and, with a backend limit, that a longer request comes back with an error status and no data.
/// </summary>
internal static unsafe class CryptoCheck
{
    private const uint RingSize = 256, Page = 4096;
    private const byte Unwritten = 0xEE;
    private static readonly byte[] Key = Convert.FromHexString("2b7e151628aed2a6abf7158809cf4f3c");
    private static readonly byte[] Plain = Convert.FromHexString(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");

    /// <summary>Runs the checks; returns the failures (empty: all passed). Each check prints one line.</summary>
    public static List<string> Run(string socket, TimeSpan connectTimeout, int maxLen)
    {
        var failures = new List<string>();
        using var mem = FrontendMemory.Create(32UL << 20);
        using var ring = new SplitRingDriver(mem, new RingDriverOptions { Size = RingSize, BufferSize = Page, MaxIndirect = 0 });
        using VhostUserFrontend fe = VhostUserFrontend.Connect(socket, connectTimeout);
        fe.SetOwner();
        fe.GetFeatures();
        ulong offered = fe.GetProtocolFeatures();
        if (!ProtocolFeatures.Has(offered, ProtocolFeatures.CryptoSession))
            throw new NotSupportedException($"the backend offers no CRYPTO_SESSION: {ProtocolFeatures.Describe(offered)}");
        fe.SetProtocolFeatures(offered & ((1UL << ProtocolFeatures.CryptoSession) | (1UL << ProtocolFeatures.ReplyAck)));
        fe.SetFeatures(fe.BackendFeatures & ~(1UL << VirtioFeatures.RingEventIdx));
        fe.SetMemTable(mem);
        fe.SetVringNum(0, ring.Size);
        fe.SetVringBase(0, ring.Areas.BaseIndex);
        fe.SetVringAddr(0, ring.Areas, mem);
        fe.SetVringKick(0, ring.KickFd);
        fe.SetVringCall(0, ring.CallFd);
        fe.SetVringEnable(0, true);

        long cbcEnc = Session(fe, CryptoSessions.Cipher(CryptoSessions.AesCbc, Key, CryptoSessions.Encrypt));
        long ctrDec = Session(fe, CryptoSessions.Cipher(CryptoSessions.AesCtr, Key, CryptoSessions.Decrypt));
        byte[] authKey = new byte[32];
        new Random(7).NextBytes(authKey);
        long chain = Session(fe, CryptoSessions.Chain(CryptoSessions.AesCbc, Key, CryptoSessions.CipherThenHash, CryptoSessions.HmacSha256, authKey, 32));
        using var aes = Aes.Create();
        aes.Key = Key;
        byte[] iv = Convert.FromHexString("000102030405060708090a0b0c0d0e0f");

        void Check(string what, bool ok)
        {
            Console.WriteLine($"{(ok ? "ok  " : "FAIL")}  crypto {what}");
            if (!ok) failures.Add(what);
        }

        var (st, dst, _) = Request(ring, Header(cbcEnc, VirtioCrypto.CipherEncrypt, VirtioCrypto.SymOpCipher, 64, 0), iv, Plain, 0);
        Check("SP 800-38A F.2.1 AES-128-CBC encrypt", st == VirtioCrypto.StatusOk && Convert.ToHexStringLower(dst) ==
            "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7");
        byte[] ctrIv = Convert.FromHexString("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
        (st, dst, _) = Request(ring, Header(ctrDec, VirtioCrypto.CipherDecrypt, VirtioCrypto.SymOpCipher, 64, 0), ctrIv,
            Convert.FromHexString("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"), 0);
        Check("SP 800-38A F.5.2 AES-128-CTR decrypt", st == VirtioCrypto.StatusOk && dst.AsSpan().SequenceEqual(Plain));

        int big = Math.Min(maxLen, 3 * (int)Page + 512) & ~15;
        byte[] data = new byte[big];
        new Random(big).NextBytes(data);
        (st, dst, _) = Request(ring, Header(cbcEnc, VirtioCrypto.CipherEncrypt, VirtioCrypto.SymOpCipher, big, 0), iv, data, 0);
        Check($"AES-128-CBC encrypt of {big} B across pages, against .NET", st == VirtioCrypto.StatusOk &&
            dst.AsSpan().SequenceEqual(aes.EncryptCbc(data, iv, PaddingMode.None)));

        var h = Header(chain, VirtioCrypto.CipherEncrypt, VirtioCrypto.SymOpChaining, 1024, 32);
        h.CipherStartSrcOffset = 64;
        h.LenToCipher = 1024 - 64;
        h.LenToHash = 1024;
        (st, dst, byte[] digest) = Request(ring, h, iv, data.AsSpan(0, 1024).ToArray(), 32);
        byte[] expected = [.. data.AsSpan(0, 64), .. aes.EncryptCbc(data.AsSpan(64, 1024 - 64), iv, PaddingMode.None)];
        Check("AES-128-CBC + HMAC-SHA256 chain (cipher then hash), against .NET", st == VirtioCrypto.StatusOk &&
            dst.AsSpan().SequenceEqual(expected) && digest.AsSpan().SequenceEqual(HMACSHA256.HashData(authKey, expected)));

        if (maxLen < 64 * 1024)
        {
            int over = (maxLen + 16) & ~15;
            (st, dst, _) = Request(ring, Header(cbcEnc, VirtioCrypto.CipherEncrypt, VirtioCrypto.SymOpCipher, over, 0), iv, new byte[over], 0);
            Check($"a {over} B request, over the backend's {maxLen}: status {st} (ERR), nothing written",
                st == VirtioCrypto.StatusErr && dst.All(b => b == Unwritten));
        }
        fe.GetVringBase(0);   // stops the queue as QEMU does
        return failures;
    }

    private static long Session(VhostUserFrontend fe, in CryptoSessionPayload p)
    {
        long id = fe.CreateCryptoSession(p);
        if (id < 0) throw new InvalidOperationException($"the backend refused a session: {id}");
        return id;
    }

    private static CryptoDataRequest Header(long session, uint opcode, uint opType, int len, int digest) => new()
    {
        Opcode = opcode, SessionId = (ulong)session, IvLen = 16, SrcDataLen = (uint)len, DstDataLen = (uint)len,
        OpType = opType, HashResultLen = (uint)digest,
    };

    /// <summary>Posts one request, waits (10 s at most) for the backend to return it; its status, destination and digest.</summary>
    private static (byte Status, byte[] Dst, byte[] Digest) Request(SplitRingDriver ring, CryptoDataRequest h, byte[] iv, byte[] src, int digest)
    {
        var parts = new List<(byte[]? Data, uint Len, bool Write)> { ([.. new ReadOnlySpan<byte>(&h, CryptoDataRequest.WireSize), .. iv], 88, false) };
        for (int off = 0; off < src.Length; off += (int)Page)
        {
            int n = Math.Min((int)Page, src.Length - off);
            parts.Add((src.AsSpan(off, n).ToArray(), (uint)n, false));
        }
        for (int off = 0; off < src.Length; off += (int)Page) parts.Add((null, (uint)Math.Min((int)Page, src.Length - off), true));
        parts.Add((null, (uint)digest + 1, true));
        var ids = new ushort[parts.Count];
        for (int i = 0; i < ids.Length; i++) ids[i] = ring.RawTakeDescriptor();
        for (int i = 0; i < ids.Length; i++)
        {
            ulong gpa = ring.Buffers.Gpa(ids[i]);
            ring.Buffers.Write(gpa, parts[i].Data ?? Enumerable.Repeat(Unwritten, (int)parts[i].Len).ToArray());
            ushort flags = (ushort)((i + 1 < ids.Length ? VringDesc.FlagNext : 0) | (parts[i].Write ? VringDesc.FlagWrite : 0));
            ring.RawWriteDesc(ids[i], gpa, parts[i].Len, flags, i + 1 < ids.Length ? ids[i + 1] : (ushort)0);
        }
        ring.RawPushAvail(ids[0]);
        ring.Publish();
        var clock = Stopwatch.StartNew();
        while (ring.ReapTx(1) == 0)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException("the backend returned no request within 10 s");
            Thread.Sleep(1);
        }
        byte[] dst = new byte[src.Length], tail = new byte[digest + 1];
        for (int i = 0, off = 0; i < parts.Count - 1; i++)
            if (parts[i].Write)
            {
                ring.Buffers.Read(ring.Buffers.Gpa(ids[i]), dst.AsSpan(off, (int)parts[i].Len));
                off += (int)parts[i].Len;
            }
        ring.Buffers.Read(ring.Buffers.Gpa(ids[^1]), tail);
        foreach (ushort id in ids) ring.RawRelease(id);
        return (tail[digest], dst, tail[..digest]);
    }
}
