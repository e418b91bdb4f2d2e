namespace HotPath.Engine.Crypto;

/// <summary>
/// A session's parameters as VhostUserCryptoSessionParam carries them (QEMU's CryptoDevBackendSymSessionInfo), before
/// validation. Keys are spans over the message's fixed buffers; their lengths are the message's claims and are
/// checked against those buffers by <see cref="Validate"/> before any key byte is read.
/// </summary>
public readonly ref struct CryptoSessionRequest
{
    public uint OpType { get; init; }
    public uint CipherAlgo { get; init; }
    public uint CipherKeyLen { get; init; }
    public uint HashAlgo { get; init; }
    public uint DigestLen { get; init; }
    public uint AuthKeyLen { get; init; }
    public uint AadLen { get; init; }
    public uint Direction { get; init; }
    public uint HashMode { get; init; }
    public uint ChainOrder { get; init; }
    /// <summary>The message's whole cipher-key buffer (64 bytes).</summary>
    public ReadOnlySpan<byte> CipherKeyBuffer { get; init; }
    /// <summary>The message's whole auth-key buffer (512 bytes).</summary>
    public ReadOnlySpan<byte> AuthKeyBuffer { get; init; }

    /// <summary>
    /// Checks every field at the door: op type, algorithms, key lengths against both the algorithm and the buffer,
    /// direction, chaining order, hash mode, digest length and AAD. Returns the first problem, or None.
    /// </summary>
    public CryptoSessionError Validate()
    {
        // Lengths first: a length is bounded by its buffer whatever the rest of the message says.
        if (CipherKeyLen > VirtioCrypto.MaxCipherKeyBytes || CipherKeyLen > CipherKeyBuffer.Length) return CryptoSessionError.CipherKeyTooLong;
        if (AuthKeyLen > VirtioCrypto.MaxAuthKeyBytes || AuthKeyLen > AuthKeyBuffer.Length) return CryptoSessionError.AuthKeyTooLong;
        switch (OpType)
        {
            case VirtioCrypto.SymOpCipher:
            case VirtioCrypto.SymOpChaining:
                break;
            case VirtioCrypto.SymOpNone:
                return CryptoSessionError.UnsupportedOpType;
            default:
                return CryptoSessionError.UnknownOpType;
        }
        CryptoSessionError e = ValidateCipher();
        if (e != CryptoSessionError.None) return e;
        if (OpType == VirtioCrypto.SymOpCipher)
            return Direction is VirtioCrypto.OpEncrypt or VirtioCrypto.OpDecrypt ? CryptoSessionError.None : CryptoSessionError.BadDirection;
        // Chaining: the order fixes the direction (hash-then-cipher decrypts, cipher-then-hash encrypts), as DPDK.
        if (ChainOrder is not (VirtioCrypto.ChainHashThenCipher or VirtioCrypto.ChainCipherThenHash)) return CryptoSessionError.BadChainOrder;
        // Plain and nested hashes are not implemented (DPDK refuses them too); anything else is no hash mode at all.
        if (HashMode != VirtioCrypto.HashModeAuth) return CryptoSessionError.UnsupportedHashMode;
        int full = MacOutputBytes(HashAlgo);
        if (full < 0) return full == -1 ? CryptoSessionError.UnsupportedMac : CryptoSessionError.UnknownMac;
        if (DigestLen == 0 || DigestLen > (uint)full) return CryptoSessionError.BadDigestLength;
        if (AadLen != 0) return CryptoSessionError.AadNotSupported;
        return CryptoSessionError.None;
    }

    private CryptoSessionError ValidateCipher()
    {
        switch (CipherAlgo)
        {
            case VirtioCrypto.CipherAesCbc:
            case VirtioCrypto.CipherAesCtr:
                return CipherKeyLen is 16 or 24 or 32 ? CryptoSessionError.None : CryptoSessionError.BadCipherKeyLength;
            case > VirtioCrypto.NoCipher and <= VirtioCrypto.CipherZucEea3:
                return CryptoSessionError.UnsupportedCipher;
            default:
                return CryptoSessionError.UnknownCipher;
        }
    }

    /// <summary>The full output of a MAC algorithm in bytes; -1 for a known MAC HotPath does not implement, -2 for an unknown id.</summary>
    public static int MacOutputBytes(uint algo) => algo switch
    {
        VirtioCrypto.MacHmacSha1 => 20,
        VirtioCrypto.MacHmacSha256 => 32,
        VirtioCrypto.MacHmacMd5 or VirtioCrypto.MacHmacSha224 or VirtioCrypto.MacHmacSha384 or VirtioCrypto.MacHmacSha512 => -1,
        25 or 26 or 27 or 28 or 41 or 42 or 49 or 50 or VirtioCrypto.MacXcbcAes => -1,
        _ => -2,
    };
}
