using HotPath.Engine.Crypto;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Protocol.Wire;
using HotPath.Tests.Infrastructure;
using static HotPath.Frontend.VhostUser.CryptoSessions;

namespace HotPath.Tests.Crypto;

/// <summary>
/// CREATE_CRYPTO_SESSION and CLOSE_CRYPTO_SESSION over a real socket from HotPath's frontend: sessions QEMU's
/// cryptodev-vhost-user would create, and hostile ones (keys longer than their buffers, unknown and unsupported
/// algorithms, bad lengths, closing unknown or closed sessions, a full table). Every refusal is a clear -1 or NACK,
/// counted by reason, and the connection keeps serving; only a non-crypto driver never offers the feature at all.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class CryptoSessionMessageTests
{
    private static readonly byte[] Key16 = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
    private static readonly byte[] Key32 = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] AuthKey = Enumerable.Range(100, 64).Select(i => (byte)i).ToArray();

    [Fact]
    public void Cipher_and_chaining_sessions_get_distinct_ids_and_close_once()
    {
        using var b = new CryptoBackend("crypto-sess");
        long cbc = b.Frontend.CreateCryptoSession(Cipher(AesCbc, Key16, Encrypt));
        long ctr = b.Frontend.CreateCryptoSession(Cipher(AesCtr, Key32, Decrypt));
        long chain = b.Frontend.CreateCryptoSession(Chain(AesCbc, Key16, CipherThenHash, HmacSha256, AuthKey, 32));
        long chain1 = b.Frontend.CreateCryptoSession(Chain(AesCtr, Key16, HashThenCipher, HmacSha1, AuthKey[..20], 12));
        long[] ids = [cbc, ctr, chain, chain1];
        Assert.All(ids, id => Assert.True(id > 0, $"session id {id}"));
        Assert.Equal(4, ids.Distinct().Count());
        Assert.Equal(4, b.Crypto.Sessions.Count);
        CryptoSession s = b.Crypto.Sessions.Find((ulong)chain1)!;
        Assert.True(s.Chained);
        Assert.False(s.Encrypt);
        Assert.Equal(12u, s.DigestLen);
        // The reply carries the id, not the keys.
        using (HostileOutcome o = b.Frontend.Hostile.SendAndObserve(HostileMessage.Honest("CREATE_CRYPTO_SESSION", 23,
                   FrontendRequest.CreateCryptoSession, FrontendPayloads.Of(Cipher(AesCbc, Key16, Encrypt))), CryptoBackend.Wait))
        {
            Assert.Equal(HostileResult.Replied, o.Result);
            byte[] reply = o.Reply!.Payload;
            long echoed = BitConverter.ToInt64(reply);
            Assert.True(echoed > 0);
            Assert.All(reply[CryptoSessionPayload.CipherKeyOffset..], x => Assert.Equal(0, x));
            b.Frontend.CloseCryptoSession((ulong)echoed);
        }

        b.Frontend.CloseCryptoSession((ulong)ctr);
        Assert.Null(b.Crypto.Sessions.Find((ulong)ctr));
        Assert.Equal(3, b.Crypto.Sessions.Count);
        // A closed session cannot be closed again, and the connection survives the NACK.
        var nack = Assert.Throws<VhostUserException>(() => b.Frontend.CloseCryptoSession((ulong)ctr));
        Assert.Equal(VhostUserFailure.Nack, nack.Failure);
        Assert.Equal(1, b.Crypto.SessionRefusals(CryptoSessionError.UnknownSession));
        // A new session never reuses the id of a closed one, even in the slot the closed one left.
        long again = b.Frontend.CreateCryptoSession(Cipher(AesCtr, Key32, Decrypt));
        Assert.True(again > 0 && !ids.Contains(again), $"{again}");
        Assert.Equal(4, b.Crypto.Sessions.Count);
    }

    [Fact]
    public void QEMU_7_2_sessions_without_op_code_are_read_in_their_own_layout()
    {
        // QEMU 7.1-8.0 (Debian 12's 7.2 among them) send CryptoDevBackendSymSessionInfo without op_code: the same 632
        // bytes with the fields 4 bytes earlier. Read in DPDK's layout this CBC session would claim cipher 32 (its key length), no key.
        using var b = new CryptoBackend("crypto-sess-72");
        CryptoSessionPayload cbc = WithoutOpCode(Cipher(AesCbc, Key32, Decrypt));
        Assert.False(cbc.HasOpCode);
        Assert.Equal(32u, cbc.CipherAlgo); // DPDK's reading finds the key length where the algorithm was
        long id = b.Frontend.CreateCryptoSession(cbc);
        long chain = b.Frontend.CreateCryptoSession(WithoutOpCode(Chain(AesCtr, Key16, CipherThenHash, HmacSha256, AuthKey, 32)));
        Assert.True(id > 0 && chain > 0, $"{id} {chain}");
        CryptoSession s = b.Crypto.Sessions.Find((ulong)id)!, c = b.Crypto.Sessions.Find((ulong)chain)!;
        Assert.False(s.Chained);
        Assert.False(s.Encrypt);
        Assert.True(c.Chained);
        Assert.True(c.Encrypt);
        Assert.Equal(32u, c.DigestLen);
        // Its key length is checked in this layout too: 17 bytes is refused.
        Assert.Equal(-1, b.Frontend.CreateCryptoSession(WithoutOpCode(Cipher(AesCbc, Key32, Encrypt, keyLen: 17))));
    }

    public static TheoryData<string, CryptoSessionPayload, CryptoSessionError> Hostile()
    {
        CryptoSessionPayload Op(byte opType) { CryptoSessionPayload p = Cipher(AesCbc, Key16, Encrypt); p.OpType = opType; return p; }
        CryptoSessionPayload Dir(byte d) => Cipher(AesCbc, Key16, d);
        CryptoSessionPayload Chained(Action<CryptoSessionPayload[]> edit)
        {
            var p = new[] { Chain(AesCbc, Key16, CipherThenHash, HmacSha256, AuthKey, 32) };
            edit(p);
            return p[0];
        }
        return new()
        {
            { "cipher key longer than its 64-byte buffer", Cipher(AesCbc, Key32, Encrypt, keyLen: 65), CryptoSessionError.CipherKeyTooLong },
            { "cipher key length 0xFFFFFFFF", Cipher(AesCbc, Key32, Encrypt, keyLen: uint.MaxValue), CryptoSessionError.CipherKeyTooLong },
            { "AES key of 17 bytes", Cipher(AesCbc, Key32, Encrypt, keyLen: 17), CryptoSessionError.BadCipherKeyLength },
            { "AES key of 64 bytes", Cipher(AesCtr, Key32, Encrypt, keyLen: 64), CryptoSessionError.BadCipherKeyLength },
            { "auth key longer than its 512-byte buffer", Chain(AesCbc, Key16, CipherThenHash, HmacSha256, AuthKey, 32, authKeyLen: 513), CryptoSessionError.AuthKeyTooLong },
            { "auth key on a cipher session longer than its buffer", Chained(p => { p[0].OpType = OpCipher; p[0].Direction = Encrypt; p[0].AuthKeyLen = 4096; }), CryptoSessionError.AuthKeyTooLong },
            { "unknown cipher 99", Cipher(99, Key16, Encrypt), CryptoSessionError.UnknownCipher },
            { "unsupported cipher AES-ECB", Cipher(2, Key16, Encrypt), CryptoSessionError.UnsupportedCipher },
            { "no cipher", Cipher(0, Key16, Encrypt), CryptoSessionError.UnknownCipher },
            { "unknown MAC 77", Chain(AesCbc, Key16, CipherThenHash, 77, AuthKey, 16), CryptoSessionError.UnknownMac },
            { "unsupported MAC HMAC-SHA512", Chain(AesCbc, Key16, CipherThenHash, 6, AuthKey, 16), CryptoSessionError.UnsupportedMac },
            { "digest of 0 bytes", Chain(AesCbc, Key16, CipherThenHash, HmacSha256, AuthKey, 0), CryptoSessionError.BadDigestLength },
            { "digest longer than HMAC-SHA1", Chain(AesCbc, Key16, CipherThenHash, HmacSha1, AuthKey, 21), CryptoSessionError.BadDigestLength },
            { "direction 3", Dir(3), CryptoSessionError.BadDirection },
            { "direction 0", Dir(0), CryptoSessionError.BadDirection },
            { "chain order 0", Chained(p => p[0].ChainOrder = 0), CryptoSessionError.BadChainOrder },
            { "plain hash mode", Chained(p => p[0].HashMode = 1), CryptoSessionError.UnsupportedHashMode },
            { "hash mode 200", Chained(p => p[0].HashMode = 200), CryptoSessionError.UnsupportedHashMode },
            { "AAD on a chain", Chained(p => p[0].AadLen = 16), CryptoSessionError.AadNotSupported },
            { "op type none", Op(0), CryptoSessionError.UnsupportedOpType },
            { "op type 9", Op(9), CryptoSessionError.UnknownOpType },
        };
    }

    [Theory]
    [MemberData(nameof(Hostile))]
    public void A_bad_session_gets_id_minus_one_is_counted_and_the_connection_keeps_serving(string what, CryptoSessionPayload p, CryptoSessionError reason)
    {
        using var b = new CryptoBackend("crypto-bad");
        long refusedBefore = ControlCounters.Refused(ControlError.BadCryptoSession);
        Assert.True(b.Frontend.CreateCryptoSession(p) == -1, what);
        Assert.Equal(1, b.Crypto.SessionRefusals(reason));
        Assert.Equal(0, b.Crypto.Sessions.Count);
        Assert.True(ControlCounters.Refused(ControlError.BadCryptoSession) > refusedBefore);
        // Still serving: a good session right after.
        Assert.True(b.Frontend.CreateCryptoSession(Cipher(AesCbc, Key16, Encrypt)) > 0);
        Assert.False(b.Session.IsClosed);
    }

    [Fact]
    public void A_full_table_refuses_until_a_session_closes()
    {
        using var b = new CryptoBackend("crypto-full", maxSessions: 4);
        var ids = Enumerable.Range(0, 4).Select(_ => b.Frontend.CreateCryptoSession(Cipher(AesCtr, Key16, Encrypt))).ToList();
        Assert.All(ids, id => Assert.True(id > 0));
        for (int i = 0; i < 3; i++) Assert.Equal(-1, b.Frontend.CreateCryptoSession(Cipher(AesCtr, Key16, Encrypt)));
        Assert.Equal(3, b.Crypto.SessionRefusals(CryptoSessionError.TableFull));
        b.Frontend.CloseCryptoSession((ulong)ids[2]);
        long next = b.Frontend.CreateCryptoSession(Cipher(AesCtr, Key16, Encrypt));
        Assert.True(next > 0 && !ids.Contains(next));
        Assert.Equal(4, b.Crypto.Sessions.Count);
        // Thousands of create/close cycles leave the table as it was.
        b.Frontend.CloseCryptoSession((ulong)next);
        for (int i = 0; i < 2000; i++)
        {
            long id = b.Frontend.CreateCryptoSession(Cipher(AesCbc, Key16, Decrypt));
            Assert.True(id > 0, $"cycle {i}: {id}");
            b.Frontend.CloseCryptoSession((ulong)id);
        }
        Assert.Equal(3, b.Crypto.Sessions.Count);
    }

    [Fact]
    public void Closing_an_unknown_session_without_reply_ack_closes_the_connection_as_dpdk_does()
    {
        using var b = new CryptoBackend("crypto-noack", replyAck: false);
        long id = b.Frontend.CreateCryptoSession(Cipher(AesCbc, Key16, Encrypt));
        b.Frontend.CloseCryptoSession((ulong)id);   // fine: no reply expected
        Assert.True(SpinWait.SpinUntil(() => b.Crypto.Sessions.Count == 0, CryptoBackend.Wait));
        b.Frontend.CloseCryptoSession(12345);
        Assert.True(SpinWait.SpinUntil(() => b.Session.IsClosed, CryptoBackend.Wait));
        Assert.Contains("no open session", b.Session.CloseReason);
    }

    [Fact]
    public void Session_messages_of_the_wrong_size_are_refused_at_the_door()
    {
        using var b = new CryptoBackend("crypto-size");
        byte[] shortPayload = FrontendPayloads.Of(Cipher(AesCbc, Key16, Encrypt))[..^1];
        using HostileOutcome o = b.Frontend.Hostile.SendAndObserve(
            HostileMessage.Honest("CREATE_CRYPTO_SESSION one byte short", 23, FrontendRequest.CreateCryptoSession, shortPayload), CryptoBackend.Wait);
        Assert.True(o.Refused, o.ToString());
        Assert.True(SpinWait.SpinUntil(() => b.Session.IsClosed, CryptoBackend.Wait));
        Assert.Contains("631 bytes", b.Session.CloseReason);
        Assert.Equal(0, b.Crypto.Sessions.Count);
    }

    [Fact]
    public void A_net_driver_never_offers_crypto_sessions_and_refuses_them()
    {
        string path = DpdkBackend.NewSocketPath("crypto-net");
        VhostDriver d = VhostDriver.Register(path, VhostDriverFlags.None);
        d.Start();
        try
        {
            using var fe = VhostUserFrontend.Connect(path, CryptoBackend.Wait);
            fe.GetFeatures();
            ulong offered = fe.GetProtocolFeatures();
            Assert.False(ProtocolFeatures.Has(offered, ProtocolFeatures.CryptoSession));
            Assert.Throws<VhostException>(() => d.SetProtocolFeatures(offered | (1UL << ProtocolFeatures.CryptoSession)));
            using HostileOutcome o = fe.Hostile.SendAndObserve(
                HostileMessage.Honest("CREATE_CRYPTO_SESSION not negotiated", 8, FrontendRequest.CreateCryptoSession,
                    FrontendPayloads.Of(Cipher(AesCbc, Key16, Encrypt))), CryptoBackend.Wait);
            Assert.Equal(HostileResult.Closed, o.Result);
        }
        finally { d.Unregister(); }
    }
}
