namespace HotPath.Engine.Interop;

/// <summary>
/// The few calls of OpenSSL's libcrypto (3.x) that zero-copy crypto needs: an EVP cipher context per session that
/// works on native pointers (guest memory) and allocates nothing per call. .NET's own AES runs on the same library
/// but takes managed arrays on its allocation-free path. Only blittable types cross; 1 is success.
/// </summary>
internal static unsafe partial class LibCrypto
{
    private const string Lib = "libcrypto.so.3";

    [LibraryImport(Lib)]
    public static partial nint EVP_CIPHER_CTX_new();

    [LibraryImport(Lib)]
    public static partial void EVP_CIPHER_CTX_free(nint ctx);

    [LibraryImport(Lib)]
    public static partial nint EVP_aes_128_cbc();

    [LibraryImport(Lib)]
    public static partial nint EVP_aes_192_cbc();

    [LibraryImport(Lib)]
    public static partial nint EVP_aes_256_cbc();

    [LibraryImport(Lib)]
    public static partial nint EVP_aes_128_ctr();

    [LibraryImport(Lib)]
    public static partial nint EVP_aes_192_ctr();

    [LibraryImport(Lib)]
    public static partial nint EVP_aes_256_ctr();

    /// <summary>enc: 1 encrypt, 0 decrypt, -1 unchanged. A null cipher or key keeps the context's.</summary>
    [LibraryImport(Lib)]
    public static partial int EVP_CipherInit_ex(nint ctx, nint cipher, nint engine, byte* key, byte* iv, int enc);

    [LibraryImport(Lib)]
    public static partial int EVP_CIPHER_CTX_set_padding(nint ctx, int padding);

    [LibraryImport(Lib)]
    public static partial int EVP_CipherUpdate(nint ctx, byte* output, int* outputLength, byte* input, int inputLength);
}
