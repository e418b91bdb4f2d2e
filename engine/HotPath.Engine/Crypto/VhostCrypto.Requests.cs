using System.Security.Cryptography;

namespace HotPath.Engine.Crypto;

// Per-queue request state, the counters of finished requests, and the built-in engine's processing step.
public sealed partial class VhostCrypto
{
    private readonly CryptoQueue?[] _queues = new CryptoQueue?[VhostDevice.MaxVrings];
    private readonly long[] _finished = new long[VirtioCrypto.StatusInvSess + 2];

    /// <summary>Requests finalized with <paramref name="status"/> (0 OK .. 4 INVSESS) since the device was made.</summary>
    public long Finished(byte status) => Interlocked.Read(ref _finished[Math.Min((int)status, _finished.Length - 1)]);

    /// <summary>Requests fetched and not finalized yet on <paramref name="queueId"/>.</summary>
    public int InFlight(int queueId) => (uint)queueId < (uint)_queues.Length && _queues[queueId] is { } q ? q.Count : 0;

    internal void CountFinished(byte status) => _finished[Math.Min((int)status, _finished.Length - 1)]++;

    /// <summary>The queue's state; made on its first fetch (one allocation per queue for the device's life).</summary>
    internal CryptoQueue Queue(int queueId) => _queues[queueId] ??= new CryptoQueue();

    internal CryptoQueue? ExistingQueue(int queueId) => (uint)queueId < (uint)_queues.Length ? _queues[queueId] : null;

    /// <summary>
    /// The staging bytes of a fetched request, for an application that runs its own engine: the IV (16 bytes), the
    /// data (SrcLen bytes of source, processed in place; finalize copies SrcLen bytes to the guest's destination and
    /// zeroes the rest up to DstLen) and the digest (HashLen bytes, finalize copies them after the destination).
    /// </summary>
    public void Buffers(in CryptoRequest r, out Span<byte> iv, out Span<byte> data, out Span<byte> digest)
    {
        CryptoQueue q = _queues[r.QueueId] ?? throw new InvalidOperationException($"queue {r.QueueId} has no requests");
        if (q.Ring[r.Slot].IsZeroCopy)
            throw new InvalidOperationException("a zero-copy request: its data stays in guest memory and only the built-in engine (Process) runs it");
        iv = q.Iv(r.Slot);
        data = q.Staging.AsSpan(q.DataStart(r.Slot), (int)r.SrcLen);
        digest = q.Digest(r.Slot, r.HashLen);
    }

    /// <summary>
    /// Runs every fetched request whose status is still OK through the built-in engine (AES-CBC/CTR, HMAC-SHA1/256),
    /// in place in its staging. A failure sets the request's status to ERR. Allocates nothing unless two queues run
    /// the same session at the same moment (see <see cref="CryptoSession.Rent"/>).
    /// </summary>
    public void Process(Span<CryptoRequest> requests)
    {
        for (int i = 0; i < requests.Length; i++)
        {
            ref CryptoRequest r = ref requests[i];
            if (r.Status != VirtioCrypto.StatusOk) continue;
            CryptoQueue? q = ExistingQueue(r.QueueId);
            if (q == null || (uint)r.Slot >= CryptoQueue.Slots || q.Ring[r.Slot].Session is not { } session)
            {
                r.Status = VirtioCrypto.StatusErr;
                continue;
            }
            ref CryptoQueue.Slot s = ref q.Ring[r.Slot];
            if (s.IsZeroCopy)
            {
                s.ZeroCopyAsked = true;   // run by finalize, in place, under the vring's lock
                continue;
            }
            SymmetricEngine e = session.Rent();
            try
            {
                Run(e, session, q, r.Slot, s.Req);
                session.Return(e);
            }
            catch (CryptographicException)
            {
                // Its CBC chaining state is unknown now: never lent again.
                e.Dispose();
                r.Status = VirtioCrypto.StatusErr;
            }
            s.Status = r.Status;
        }
    }

    private static void Run(SymmetricEngine e, CryptoSession session, CryptoQueue q, int slot, in CryptoDataRequest req)
    {
        int data = q.DataStart(slot);
        ReadOnlySpan<byte> iv = q.Iv(slot);
        if (!session.Chained)
        {
            Cipher(e, session, q, data, (int)req.SrcDataLen, iv);
            return;
        }
        // Cipher-then-hash MACs the cipher's output; hash-then-cipher MACs the source before deciphering it.
        Span<byte> digest = q.Digest(slot, req.HashResultLen);
        ReadOnlySpan<byte> hashed = q.Staging.AsSpan(data + (int)req.HashStartSrcOffset, (int)req.LenToHash);
        if (!session.Encrypt) e.Mac(hashed, digest);
        Cipher(e, session, q, data + (int)req.CipherStartSrcOffset, (int)req.LenToCipher, iv);
        if (session.Encrypt) e.Mac(hashed, digest);
    }

    private static void Cipher(SymmetricEngine e, CryptoSession session, CryptoQueue q, int off, int len, ReadOnlySpan<byte> iv)
    {
        if (session.CipherAlgo == VirtioCrypto.CipherAesCtr) e.Ctr(q.Staging, off, len, iv, q.Work);
        else if (session.Encrypt) e.CbcEncrypt(q.Staging, off, len, iv);
        else e.CbcDecrypt(q.Staging, off, len, iv, q.Work);
    }

    private void DisposeQueues()
    {
        for (int i = 0; i < _queues.Length; i++)
        {
            _queues[i]?.Dispose();
            _queues[i] = null;
        }
    }
}
