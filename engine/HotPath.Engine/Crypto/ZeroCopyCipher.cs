using HotPath.Engine.Interop;

namespace HotPath.Engine.Crypto;

/// <summary>
/// A cipher-only session's AES-CBC or AES-CTR on libcrypto's EVP, from one native buffer to another: zero-copy
/// requests run from the guest's source straight into its destination. The key is set once; each request sets only
/// its IV and runs one update (no padding, so CBC's output is exactly its input's length). Nothing is allocated per
/// call. Not thread-safe: the session lends it to one request at a time (<see cref="CryptoSession.RentZeroCopy"/>).
/// </summary>
internal sealed unsafe class ZeroCopyCipher : IDisposable
{
    private nint _ctx;

    public ZeroCopyCipher(uint algo, ReadOnlySpan<byte> key, bool encrypt)
    {
        nint cipher = (algo, key.Length) switch
        {
            (VirtioCrypto.CipherAesCbc, 16) => LibCrypto.EVP_aes_128_cbc(),
            (VirtioCrypto.CipherAesCbc, 24) => LibCrypto.EVP_aes_192_cbc(),
            (VirtioCrypto.CipherAesCbc, 32) => LibCrypto.EVP_aes_256_cbc(),
            (VirtioCrypto.CipherAesCtr, 16) => LibCrypto.EVP_aes_128_ctr(),
            (VirtioCrypto.CipherAesCtr, 24) => LibCrypto.EVP_aes_192_ctr(),
            (VirtioCrypto.CipherAesCtr, 32) => LibCrypto.EVP_aes_256_ctr(),
            _ => throw new ArgumentException($"no zero-copy cipher for algorithm {algo} with a {key.Length}-byte key"),
        };
        _ctx = LibCrypto.EVP_CIPHER_CTX_new();
        if (_ctx == 0) throw new InvalidOperationException("EVP_CIPHER_CTX_new failed");
        fixed (byte* k = key)
        {
            if (LibCrypto.EVP_CipherInit_ex(_ctx, cipher, 0, k, null, encrypt ? 1 : 0) != 1 || LibCrypto.EVP_CIPHER_CTX_set_padding(_ctx, 0) != 1)
            {
                Dispose();
                throw new InvalidOperationException("EVP_CipherInit_ex failed");
            }
        }
    }

    /// <summary>True when libcrypto can be loaded (zero-copy is offered only then).</summary>
    public static bool Available()
    {
        try
        {
            LibCrypto.EVP_CIPHER_CTX_free(LibCrypto.EVP_CIPHER_CTX_new());
            return true;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// <paramref name="len"/> bytes from <paramref name="src"/> to <paramref name="dst"/> under <paramref name="iv"/>
    /// (16 bytes). False when libcrypto refuses (for one, source and destination partially overlapping).
    /// </summary>
    public bool Run(byte* iv, byte* src, byte* dst, int len)
    {
        int outLen = 0;
        return LibCrypto.EVP_CipherInit_ex(_ctx, 0, 0, null, iv, -1) == 1 &&
            LibCrypto.EVP_CipherUpdate(_ctx, dst, &outLen, src, len) == 1 && outLen == len;
    }

    public void Dispose()
    {
        if (_ctx != 0) LibCrypto.EVP_CIPHER_CTX_free(_ctx);
        _ctx = 0;
    }
}
