using System.Buffers.Binary;
using System.Security.Cryptography;

namespace HotPath.Engine.Crypto;

/// <summary>
/// One session's keyed crypto objects on .NET's System.Security.Cryptography (OpenSSL underneath on Linux): an AES-ECB
/// encryptor and decryptor and, for a chaining session, an HMAC. CBC and CTR are built on the ECB transforms because
/// they are the only AES API that takes a per-request IV without allocating: <c>ICryptoTransform.TransformBlock</c> on
/// caller-owned arrays and <c>IncrementalHash</c> allocate nothing per call, while the span one-shots
/// (<c>Aes.EncryptCbc</c>) allocate a native cipher wrapper each time. Not thread-safe: a session lends it to one
/// request at a time (<see cref="CryptoSession.Rent"/>).
/// </summary>
public sealed class SymmetricEngine : IDisposable
{
    private const int Block = VirtioCrypto.AesBlock;

    private readonly Aes _aes;
    private readonly ICryptoTransform _enc, _dec;
    private readonly IncrementalHash? _mac;
    private readonly byte[] _block = new byte[Block];
    private readonly byte[] _prev = new byte[Block];

    public SymmetricEngine(ReadOnlySpan<byte> cipherKey, uint macAlgo, ReadOnlySpan<byte> macKey)
    {
        _aes = Aes.Create();
        _aes.Mode = CipherMode.ECB;
        _aes.Padding = PaddingMode.None;
        byte[] key = cipherKey.ToArray();
        _enc = _aes.CreateEncryptor(key, null);
        _dec = _aes.CreateDecryptor(key, null);
        CryptographicOperations.ZeroMemory(key);
        _aes.Key = new byte[16];   // the object's own copy of the key is not needed: the transforms hold theirs
        if (macAlgo != VirtioCrypto.NoMac)
            _mac = IncrementalHash.CreateHMAC(macAlgo == VirtioCrypto.MacHmacSha1 ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA256, macKey);
    }

    /// <summary>AES-CBC encryption of <paramref name="len"/> bytes (a multiple of 16) of <paramref name="buf"/> in place.</summary>
    public void CbcEncrypt(byte[] buf, int off, int len, ReadOnlySpan<byte> iv)
    {
        Debug.Assert(len % Block == 0 && iv.Length == Block);
        iv.CopyTo(_prev);
        for (int i = off; i < off + len; i += Block)
        {
            for (int j = 0; j < Block; j++) _block[j] = (byte)(buf[i + j] ^ _prev[j]);
            // Each block depends on the one before: one ECB call per block.
            _enc.TransformBlock(_block, 0, Block, buf, i);
            Buffer.BlockCopy(buf, i, _prev, 0, Block);
        }
    }

    /// <summary>
    /// AES-CBC decryption in place. The whole range is ECB-decrypted into <paramref name="work"/> in one call, then
    /// each block is XORed with the ciphertext block before it, from the last block down so the ciphertext is still
    /// there when it is needed.
    /// </summary>
    public void CbcDecrypt(byte[] buf, int off, int len, ReadOnlySpan<byte> iv, byte[] work)
    {
        Debug.Assert(len % Block == 0 && iv.Length == Block && work.Length >= len);
        if (len == 0) return;
        _dec.TransformBlock(buf, off, len, work, 0);
        for (int b = len - Block; b >= 0; b -= Block)
        {
            for (int j = 0; j < Block; j++)
                buf[off + b + j] = (byte)(work[b + j] ^ (b == 0 ? iv[j] : buf[off + b - Block + j]));
        }
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
        _enc.TransformBlock(work, 0, blocks * Block, work, 0);
        for (int i = 0; i < len; i++) buf[off + i] ^= work[i];
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
        _enc.Dispose();
        _dec.Dispose();
        _mac?.Dispose();
        _aes.Dispose();
    }
}
