namespace HotPath.Engine.Crypto;

/// <summary>Why a CREATE_CRYPTO_SESSION or CLOSE_CRYPTO_SESSION was refused. Closed set, each with readable text.</summary>
public enum CryptoSessionError
{
    None = 0,
    UnknownOpType,
    UnsupportedOpType,
    UnknownCipher,
    UnsupportedCipher,
    BadCipherKeyLength,
    CipherKeyTooLong,
    BadDirection,
    BadChainOrder,
    UnsupportedHashMode,
    UnknownMac,
    UnsupportedMac,
    AuthKeyTooLong,
    BadDigestLength,
    AadNotSupported,
    TableFull,
    UnknownSession,
    EngineFailed,
}

public static class CryptoSessionErrorText
{
    public static string Describe(this CryptoSessionError e) => e switch
    {
        CryptoSessionError.None => "ok",
        CryptoSessionError.UnknownOpType => "unknown symmetric op type",
        CryptoSessionError.UnsupportedOpType => "op type not supported (cipher or cipher+MAC chaining only)",
        CryptoSessionError.UnknownCipher => "unknown cipher algorithm",
        CryptoSessionError.UnsupportedCipher => "cipher algorithm not supported (AES-CBC and AES-CTR)",
        CryptoSessionError.BadCipherKeyLength => "cipher key length is not 16, 24 or 32 bytes",
        CryptoSessionError.CipherKeyTooLong => $"cipher key longer than {VirtioCrypto.MaxCipherKeyBytes} bytes",
        CryptoSessionError.BadDirection => "cipher direction is neither encrypt (1) nor decrypt (2)",
        CryptoSessionError.BadChainOrder => "chaining order is neither hash-then-cipher (1) nor cipher-then-hash (2)",
        CryptoSessionError.UnsupportedHashMode => "hash mode not supported (authenticated hash only)",
        CryptoSessionError.UnknownMac => "unknown MAC algorithm",
        CryptoSessionError.UnsupportedMac => "MAC algorithm not supported (HMAC-SHA1 and HMAC-SHA256)",
        CryptoSessionError.AuthKeyTooLong => $"MAC key longer than {VirtioCrypto.MaxAuthKeyBytes} bytes",
        CryptoSessionError.BadDigestLength => "digest length is 0 or longer than the MAC's output",
        CryptoSessionError.AadNotSupported => "additional authenticated data is not supported",
        CryptoSessionError.TableFull => "the device's session table is full",
        CryptoSessionError.UnknownSession => "no open session with that id",
        CryptoSessionError.EngineFailed => "the crypto engine could not create the session",
        _ => e.ToString(),
    };
}
