namespace HotPath.Engine.Crypto;

/// <summary>
/// One open virtio-crypto session: what it does (cipher, direction, chaining order, MAC and digest length) and its
/// keyed <see cref="SymmetricEngine"/>. The session table holds one reference; every request fetched for it holds
/// another until it is finalized, so CLOSE_CRYPTO_SESSION of a session with requests in flight only unlists it and
/// the engine is disposed when the last request lets go.
/// </summary>
public sealed class CryptoSession
{
    private int _refs = 1;
    private SymmetricEngine? _engine;
    private ZeroCopyCipher? _zeroCopy;
    private readonly byte[] _cipherKey;
    private readonly byte[] _macKey;

    internal CryptoSession(ulong id, in CryptoSessionRequest r)
    {
        Id = id;
        CipherAlgo = r.CipherAlgo;
        Chained = r.OpType == VirtioCrypto.SymOpChaining;
        Encrypt = Chained ? r.ChainOrder == VirtioCrypto.ChainCipherThenHash : r.Direction == VirtioCrypto.OpEncrypt;
        MacAlgo = Chained ? r.HashAlgo : VirtioCrypto.NoMac;
        DigestLen = Chained ? r.DigestLen : 0;
        _cipherKey = r.CipherKeyBuffer[..(int)r.CipherKeyLen].ToArray();
        _macKey = Chained ? r.AuthKeyBuffer[..(int)r.AuthKeyLen].ToArray() : [];
        _engine = NewEngine();
    }

    public ulong Id { get; }
    public uint CipherAlgo { get; }
    /// <summary>Cipher + MAC (algorithm chaining); false: cipher only.</summary>
    public bool Chained { get; }
    /// <summary>Encrypts (cipher-only encrypt session, or cipher-then-hash); false: decrypts.</summary>
    public bool Encrypt { get; }
    public uint MacAlgo { get; }
    public uint DigestLen { get; }

    private SymmetricEngine NewEngine() => new(_cipherKey, MacAlgo, _macKey);

    /// <summary>Takes a reference for a request; false when the session is closed and its last request has let go.</summary>
    internal bool TryAcquire()
    {
        int r = Volatile.Read(ref _refs);
        while (r > 0)
        {
            int seen = Interlocked.CompareExchange(ref _refs, r + 1, r);
            if (seen == r) return true;
            r = seen;
        }
        return false;
    }

    /// <summary>Drops a reference (the table's on close, a request's on finalize); the last one disposes the engine.</summary>
    internal void Release()
    {
        if (Interlocked.Decrement(ref _refs) != 0) return;
        Interlocked.Exchange(ref _engine, null)?.Dispose();
        Interlocked.Exchange(ref _zeroCopy, null)?.Dispose();
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(_cipherKey);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(_macKey);
    }

    /// <summary>
    /// The session's engine for one request (hand it back with <see cref="Return"/>). When two queues run the same
    /// session at once, the second gets a fresh engine: correct, but that request allocates.
    /// </summary>
    internal SymmetricEngine Rent() => Interlocked.Exchange(ref _engine, null) ?? NewEngine();

    /// <summary>Hands an engine back (a spare one is disposed). The caller holds a reference, so the session cannot
    /// be released meanwhile: the last <see cref="Release"/> finds the engine in its field.</summary>
    internal void Return(SymmetricEngine e)
    {
        if (Interlocked.CompareExchange(ref _engine, e, null) != null) e.Dispose();
    }

    /// <summary>
    /// The session's zero-copy cipher for one request (cipher-only sessions; hand it back with
    /// <see cref="ReturnZeroCopy"/>): made on the session's first zero-copy request, or fresh when another queue
    /// holds it at that instant.
    /// </summary>
    internal ZeroCopyCipher RentZeroCopy() =>
        Interlocked.Exchange(ref _zeroCopy, null) ?? new ZeroCopyCipher(CipherAlgo, _cipherKey, Encrypt);

    internal void ReturnZeroCopy(ZeroCopyCipher c)
    {
        if (Interlocked.CompareExchange(ref _zeroCopy, c, null) != null) c.Dispose();
    }
}
