using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// Builds VhostUserCryptoSession payloads as QEMU's virtio-crypto device fills CryptoDevBackendSymSessionInfo: a
/// cipher-only session, or cipher + MAC chaining. Lengths are written as given (a hostile test may claim more than
/// the key it passes); the key bytes are copied up to the buffer's size.
/// </summary>
public static unsafe class CryptoSessions
{
    public const byte OpCipher = 1, OpChaining = 2;
    public const byte Encrypt = 1, Decrypt = 2;
    public const byte HashThenCipher = 1, CipherThenHash = 2;
    public const byte HashModeAuth = 2;
    public const uint AesCbc = 3, AesCtr = 4, HmacSha1 = 2, HmacSha256 = 4;
    public const uint CipherCreateSession = 0x02; // VIRTIO_CRYPTO_CIPHER_CREATE_SESSION (chaining is a cipher session)

    public static CryptoSessionPayload Cipher(uint algo, ReadOnlySpan<byte> key, byte direction, uint? keyLen = null)
    {
        var p = new CryptoSessionPayload
        {
            OpCode = CipherCreateSession, OpType = OpCipher, CipherAlgo = algo, CipherKeyLen = keyLen ?? (uint)key.Length, Direction = direction,
            // QEMU sends its in-process key pointers; the backend must never look at them.
            CipherKeyPointer = 0xdead_beef_0000_0000, AuthKeyPointer = 0xdead_beef_0000_0008,
        };
        key[..Math.Min(key.Length, CryptoSessionPayload.CipherKeyBufferSize)].CopyTo(new Span<byte>(p.CipherKey, CryptoSessionPayload.CipherKeyBufferSize));
        return p;
    }

    public static CryptoSessionPayload Chain(uint cipherAlgo, ReadOnlySpan<byte> key, byte order, uint macAlgo,
        ReadOnlySpan<byte> authKey, uint digestLen, uint? authKeyLen = null)
    {
        CryptoSessionPayload p = Cipher(cipherAlgo, key, order == CipherThenHash ? Encrypt : Decrypt);
        p.OpType = OpChaining;
        p.ChainOrder = order;
        p.HashMode = HashModeAuth;
        p.HashAlgo = macAlgo;
        p.DigestLen = digestLen;
        p.AuthKeyLen = authKeyLen ?? (uint)authKey.Length;
        authKey[..Math.Min(authKey.Length, CryptoSessionPayload.AuthKeyBufferSize)].CopyTo(new Span<byte>(p.AuthKey, CryptoSessionPayload.AuthKeyBufferSize));
        return p;
    }

    /// <summary>
    /// The same session in QEMU 7.1-8.0's layout: CryptoDevBackendSymSessionInfo without op_code, every field up to
    /// the pointers 4 bytes earlier, the key buffers where they were.
    /// </summary>
    public static CryptoSessionPayload WithoutOpCode(CryptoSessionPayload p)
    {
        CryptoSessionPayload q = p;
        q.SymCipherAlgo = p.CipherAlgo;
        q.SymCipherKeyLen = p.CipherKeyLen;
        q.SymHashAlgo = p.HashAlgo;
        q.SymDigestLen = p.DigestLen;
        q.SymAuthKeyLen = p.AuthKeyLen;
        q.SymAadLen = p.AadLen;
        q.SymOpType = p.OpType;
        q.SymDirection = p.Direction;
        q.SymHashMode = p.HashMode;
        q.SymChainOrder = p.ChainOrder;
        *(uint*)((byte*)&q + 36) = 0; // the struct's tail padding before the pointers
        return q;
    }
}
