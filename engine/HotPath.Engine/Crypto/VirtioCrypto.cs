namespace HotPath.Engine.Crypto;

/// <summary>
/// virtio-crypto constants (virtio 1.2 section 5.9; Linux include/uapi/linux/virtio_crypto.h, DPDK
/// lib/vhost/virtio_crypto.h): data-request opcodes, algorithm ids, the symmetric op types and chaining orders, and the
/// status byte the device writes last into every request.
/// </summary>
public static class VirtioCrypto
{
    // ---- status (struct virtio_crypto_inhdr) ----
    public const byte StatusOk = 0, StatusErr = 1, StatusBadMsg = 2, StatusNotSupp = 3, StatusInvSess = 4;

    // ---- data-queue opcodes: (service << 8) | op ----
    public const uint ServiceCipher = 0, ServiceHash = 1, ServiceMac = 2, ServiceAead = 3;
    public const uint CipherEncrypt = ServiceCipher << 8, CipherDecrypt = (ServiceCipher << 8) | 1;

    // ---- cipher algorithms (cipher_algo) ----
    public const uint NoCipher = 0, CipherAesEcb = 2, CipherAesCbc = 3, CipherAesCtr = 4, CipherZucEea3 = 14;

    // ---- MAC algorithms (hash_algo of an AUTH chain) ----
    public const uint NoMac = 0, MacHmacMd5 = 1, MacHmacSha1 = 2, MacHmacSha224 = 3, MacHmacSha256 = 4, MacHmacSha384 = 5,
        MacHmacSha512 = 6, MacXcbcAes = 53;

    // ---- symmetric op types, chaining orders, hash modes, directions ----
    public const uint SymOpNone = 0, SymOpCipher = 1, SymOpChaining = 2;
    public const uint ChainHashThenCipher = 1, ChainCipherThenHash = 2;
    public const uint HashModePlain = 1, HashModeAuth = 2, HashModeNested = 3;
    public const uint OpEncrypt = 1, OpDecrypt = 2;

    /// <summary>AES block, IV and counter size.</summary>
    public const int AesBlock = 16;

    /// <summary>Largest cipher key and HMAC key a session may carry (the vhost-user message's buffers: 64 and 512).</summary>
    public const int MaxCipherKeyBytes = 64, MaxAuthKeyBytes = 512;

    public static string StatusName(byte s) => s switch
    {
        StatusOk => "OK", StatusErr => "ERR", StatusBadMsg => "BADMSG", StatusNotSupp => "NOTSUPP",
        StatusInvSess => "INVSESS", _ => $"status {s}",
    };
}
