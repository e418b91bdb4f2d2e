using System.Buffers.Binary;
using System.Security.Cryptography;

namespace HotPath.Engine.Crypto;

/// <summary>
/// One session's keyed crypto objects on .NET's System.Security.Cryptography (OpenSSL underneath on Linux): AES-CBC
/// encryptor and decryptor transforms, an AES-ECB encryptor for CTR and, for a chaining session, an HMAC. These are
/// the AES APIs that allocate nothing per call (<c>ICryptoTransform.TransformBlock</c> on caller-owned arrays,
/// <c>IncrementalHash</c>); the span one-shots (<c>Aes.EncryptCbc</c>) allocate a native cipher wrapper each time.
/// A CBC transform's IV is fixed when it is made, but it chains on from its last ciphertext block, which is known:
/// folding <c>iv ^ state</c> into the first block gives exactly CBC under the request's IV, in one call per request.
/// Not thread-safe: a session lends it to one request at a time (<see cref="CryptoSession.Rent"/>); after an
/// exception its chaining state is unknown and it must be disposed, not lent again.
/// </summary>
public sealed class SymmetricEngine : IDisposable
{
    private const int Block = VirtioCrypto.AesBlock;

    private readonly Aes _aes;
    private readonly ICryptoTransform _cbcEnc, _cbcDec, _ecb;
    private readonly IncrementalHash? _mac;
    // The block each CBC transform chains from next: zero at first, then the last ciphertext block it saw.
    private readonly byte[] _encState = new byte[Block], _decState = new byte[Block], _nextDecState = new byte[Block];

    public SymmetricEngine(ReadOnlySpan<byte> cipherKey, uint macAlgo, ReadOnlySpan<byte> macKey)
    {
        _aes = Aes.Create();
        _aes.Padding = PaddingMode.None;
        byte[] key = cipherKey.ToArray(), zeroIv = new byte[Block];
        _aes.Mode = CipherMode.CBC;
        _cbcEnc = _aes.CreateEncryptor(key, zeroIv);
        _cbcDec = _aes.CreateDecryptor(key, zeroIv);
        _aes.Mode = CipherMode.ECB;
        _ecb = _aes.CreateEncryptor(key, null);
        CryptographicOperations.ZeroMemory(key);
        _aes.Key = new byte[16];   // the object's own copy of the key is not needed: the transforms hold theirs
        if (macAlgo != VirtioCrypto.NoMac)
            _mac = IncrementalHash.CreateHMAC(macAlgo == VirtioCrypto.MacHmacSha1 ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA256, macKey);
    }

    /// <summary>AES-CBC encryption of <paramref name="len"/> bytes (a multiple of 16) of <paramref name="buf"/> in place.</summary>
    public void CbcEncrypt(byte[] buf, int off, int len, ReadOnlySpan<byte> iv)
    {
        Debug.Assert(len % Block == 0 && iv.Length == Block);
        if (len == 0) return;
        // C0 = E(P0 ^ iv ^ state ^ state) = E(P0 ^ iv): the transform XORs its state in itself.
        for (int j = 0; j < Block; j++) buf[off + j] ^= (byte)(iv[j] ^ _encState[j]);
        _cbcEnc.TransformBlock(buf, off, len, buf, off);
        Buffer.BlockCopy(buf, off + len - Block, _encState, 0, Block);
    }

    /// <summary>
    /// AES-CBC decryption in place through <paramref name="work"/>: the transform gives D(C0) ^ state for the first
    /// block, which becomes D(C0) ^ iv by XORing state ^ iv back in; the rest chains on the ciphertext as usual.
    /// </summary>
    public void CbcDecrypt(byte[] buf, int off, int len, ReadOnlySpan<byte> iv, byte[] work)
    {
        Debug.Assert(len % Block == 0 && iv.Length == Block && work.Length >= len);
        if (len == 0) return;
        Buffer.BlockCopy(buf, off + len - Block, _nextDecState, 0, Block);
        _cbcDec.TransformBlock(buf, off, len, work, 0);
        for (int j = 0; j < Block; j++) work[j] ^= (byte)(iv[j] ^ _decState[j]);
        Buffer.BlockCopy(work, 0, buf, off, len);
        Buffer.BlockCopy(_nextDecState, 0, _decState, 0, Block);
    }

    /// <summary>
    /// AES-CTR (NIST SP 800-38A 6.5) in place, encryption and decryption alike: the counter blocks (the IV, then +1 as
    /// a 128-bit big-endian integer, as Linux's ctr(aes)) are written to <paramref name="work"/>, encrypted there in
    /// one ECB call, and XORed into the data. Any length; the last block's keystream is cut short.
    /// </summary>
    public void Ctr(byte[] buf, int off, int len, ReadOnlySpan<byte> iv, byte[] work)
    {
        Debug.Assert(iv.Length == Block && work.Length >= ((len + Block - 1) & ~(Block - 1)));
        if (len == 0) return;
        int blocks = (len + Block - 1) / Block;
        ulong hi = BinaryPrimitives.ReadUInt64BigEndian(iv), lo = BinaryPrimitives.ReadUInt64BigEndian(iv[8..]);
        for (int b = 0; b < blocks; b++)
        {
            Span<byte> ctr = work.AsSpan(b * Block, Block);
            BinaryPrimitives.WriteUInt64BigEndian(ctr, hi);
            BinaryPrimitives.WriteUInt64BigEndian(ctr[8..], lo);
            if (++lo == 0) hi++;
        }
        _ecb.TransformBlock(work, 0, blocks * Block, work, 0);
        Xor(buf.AsSpan(off, len), work);
    }

    /// <summary><paramref name="dst"/> ^= <paramref name="src"/> (at least as long), a vector at a time, then bytes.</summary>
    private static void Xor(Span<byte> dst, ReadOnlySpan<byte> src)
    {
        int i = 0, w = System.Numerics.Vector<byte>.Count;
        for (; i + w <= dst.Length; i += w)
            (new System.Numerics.Vector<byte>(dst[i..]) ^ new System.Numerics.Vector<byte>(src[i..])).CopyTo(dst[i..]);
        for (; i < dst.Length; i++) dst[i] ^= src[i];
    }

    /// <summary>HMAC of <paramref name="data"/> into <paramref name="digest"/>, cut to its length (at most the MAC's output).</summary>
    public void Mac(ReadOnlySpan<byte> data, Span<byte> digest)
    {
        Debug.Assert(_mac != null);
        _mac!.AppendData(data);
        Span<byte> full = stackalloc byte[32];
        _mac.TryGetHashAndReset(full, out int n);
        full[..Math.Min(n, digest.Length)].CopyTo(digest);
        CryptographicOperations.ZeroMemory(full);
    }

    public void Dispose()
    {
        _cbcEnc.Dispose();
        _cbcDec.Dispose();
        _ecb.Dispose();
        _mac?.Dispose();
        _aes.Dispose();
    }
}
