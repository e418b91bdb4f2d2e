using HotPath.Engine.Crypto;
using HotPath.Engine.Datapath;
using HotPath.Engine.Logging;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine;

/// <summary>
/// virtio-crypto data queues (DPDK's rte_vhost_crypto_fetch_requests / rte_vhost_crypto_finalize_requests): fetch
/// parses the guest's requests into <see cref="CryptoRequest"/>s with their data copied out once,
/// <see cref="VhostCrypto.Process"/> (or the application's own engine) performs them, finalize writes results and
/// status bytes into the guest's buffers and returns the chains used. Split rings, guest physical addresses (no
/// IOMMU). Like the bursts, both only try-take the vring's access lock and return 0 when the control plane holds it.
/// </summary>
public sealed unsafe partial class VhostDevice
{
    /// <summary>The device's virtio-crypto state (sessions, data-queue requests); null unless its driver serves
    /// virtio-crypto.</summary>
    public VhostCrypto? Crypto { get; set; }

    /// <summary>
    /// Fetches up to <paramref name="requests"/>.Length requests from data queue <paramref name="queueId"/> (at most
    /// <see cref="CryptoQueue.Slots"/> in flight per queue). Each is parsed and validated; a bad one comes back with its
    /// final status (not OK) and still has to be finalized. Returns how many were fetched.
    /// </summary>
    public int FetchCryptoRequests(int queueId, Span<CryptoRequest> requests)
    {
        if (Crypto is not { } crypto || requests.IsEmpty) return 0;
        Vring? vq = GetVring(queueId);
        if (vq == null || !vq.AccessLock.TryEnter()) return 0;
        int n = 0;
        GuestMemory? mem = _burstMemory;
        if (mem != null && vq.IsReady && !vq.IsPacked) n = FetchCrypto(crypto, vq, mem, requests);
        vq.AccessLock.Exit();
        return n;
    }

    private int FetchCrypto(VhostCrypto crypto, Vring vq, GuestMemory mem, Span<CryptoRequest> requests)
    {
        CryptoQueue q = crypto.Queue(vq.Index);
        // Requests fetched from a ring or memory table since replaced: finalize drops them (and says how many);
        // nothing new is fetched before that, so the slots stay in fetch order.
        if (q.Count != 0 && (q.FetchedFrom != mem || q.FetchedDesc != vq.Desc)) return 0;
        uint pending = SplitRing.Begin(vq, Features, out _, out ushort lastAvail);
        int n = (int)Math.Min(Math.Min(pending, (uint)requests.Length), (uint)q.Free);
        if (n == 0) return 0;
        q.FetchedFrom = mem;
        q.FetchedDesc = vq.Desc;
        ushort* ring = (ushort*)(vq.Avail + SplitRingLayout.AvailRingOffset);
        uint mask = vq.Size - 1;
        for (int k = 0; k < n; k++)
        {
            // SAFETY: the index is masked into the translated avail ring; read once into a local.
            ushort head = ring[(ushort)(lastAvail + k) & mask];
            int slot = (q.Head + q.Count) % CryptoQueue.Slots;
            q.Count++;
            CryptoRequestReader.Read(crypto, vq, mem, q, slot, head);
            ref CryptoQueue.Slot s = ref q.Ring[slot];
            requests[k] = new CryptoRequest
            {
                QueueId = (ushort)vq.Index, Slot = (ushort)slot, Status = s.Status, SessionId = s.Req.SessionId,
                Opcode = s.Req.Opcode, OpType = s.Req.OpType, SrcLen = s.Req.SrcDataLen, DstLen = s.Req.DstDataLen,
                HashLen = s.Req.OpType == VirtioCrypto.SymOpChaining ? s.Req.HashResultLen : 0,
            };
        }
        vq.LastAvailIdx = (ushort)(lastAvail + n);
        return n;
    }

    /// <summary>
    /// Finalizes fetched requests, in the order they were fetched: for each, the processed data, zeroes up to the
    /// destination length and the digest go into the guest's writable buffers (OK only), then the status byte; the
    /// chains are returned used in one publish, and the guest notified if it asked. Requests whose ring or memory was
    /// replaced since the fetch are dropped without a write. Returns how many were finalized (0 when the vring lock
    /// is held: call again).
    /// </summary>
    public int FinalizeCryptoRequests(ReadOnlySpan<CryptoRequest> requests)
    {
        if (Crypto is not { } crypto || requests.IsEmpty) return 0;
        int queueId = requests[0].QueueId;
        Vring? vq = GetVring(queueId);
        CryptoQueue? q = crypto.ExistingQueue(queueId);
        if (vq == null || q == null || !vq.AccessLock.TryEnter()) return 0;
        int done = 0;
        bool sameRing = q.FetchedFrom == _burstMemory && q.FetchedDesc == vq.Desc && vq.IsReady;
        DirtyLog? log = vq.ActiveLog;   // set while dirty logging is on (LOG_ALL and a log base), stable under the lock
        uint published = 0;
        for (; done < requests.Length && q.Count > 0; done++)
        {
            ref readonly CryptoRequest r = ref requests[done];
            if (r.QueueId != queueId || r.Slot != q.Head) break;   // out of fetch order: stop here
            ref CryptoQueue.Slot s = ref q.Ring[q.Head];
            if (sameRing)
            {
                // The caller may turn OK into a failure, never the reverse: a request the reader refused has lengths
                // nobody validated, and its data must not be written.
                byte status = s.Status != VirtioCrypto.StatusOk ? s.Status : r.Status;
                status = Complete(crypto, q, q.Head, ref s, status);
                if (log != null) LogCompleted(log, vq, q, q.Head, ref s);
                q.Shadow[published++] = new VringUsedElem { Id = s.Head, Len = s.UsedLen };
                crypto.CountFinished(status);
            }
            s.Session?.Release();
            s.Session = null;
            q.Head = (q.Head + 1) % CryptoQueue.Slots;
            q.Count--;
        }
        if (published != 0) PublishCrypto(vq, q.Shadow, published);
        vq.AccessLock.Exit();
        return done;
    }

    /// <summary>Writes one request's result and status into the guest; returns the status written.</summary>
    private static byte Complete(VhostCrypto crypto, CryptoQueue q, int slot, ref CryptoQueue.Slot s, byte status)
    {
        if (s.UsedLen == 0) return status;   // no status byte located: nothing to write
        BufPiece* w = q.WritableOf(slot);
        if (status == VirtioCrypto.StatusOk && s.ZeroCopySrc != null) status = RunZeroCopy(crypto, q, slot, ref s);
        if (status != VirtioCrypto.StatusOk) s.UsedLen = 1;
        else
        {
            uint src = s.Req.SrcDataLen, dst = s.Req.DstDataLen;
            uint hash = s.Req.OpType == VirtioCrypto.SymOpChaining ? s.Req.HashResultLen : 0;
            fixed (byte* staging = q.Staging)
            {
                byte* b = staging + slot * CryptoQueue.SlotBytes;
                // Bounds: the reader checked that the pieces held have dst + hash bytes.
                if (s.ZeroCopySrc == null) CryptoChainWalker.Scatter(w, s.Writable, 0, b + CryptoQueue.DataOffset, src);
                if (dst > src) CryptoChainWalker.Zero(w, s.Writable, src, dst - src);
                if (hash != 0) CryptoChainWalker.Scatter(w, s.Writable, dst, b + CryptoQueue.DigestOffset, hash);
            }
        }
        // SAFETY: the chain's last writable byte, translated by the walker in the memory table still in use (sameRing).
        *s.StatusByte = status;
        return status;
    }

    /// <summary>
    /// Dirty logging (live migration) of what Complete wrote: the destination and digest bytes from the
    /// pieces' guest addresses, then the status byte. After the writes and before the used entries are published
    /// (SplitColdPublish then logs the used ring), as the net bursts do.
    /// </summary>
    private static void LogCompleted(DirtyLog log, Vring vq, CryptoQueue q, int slot, ref CryptoQueue.Slot s)
    {
        if (s.UsedLen == 0) return;   // nothing was written
        if (s.UsedLen > 1) DirtyLogging.Pieces(log, vq.Stats, q.WritableOf(slot), s.Writable, s.UsedLen - 1);
        vq.Stats.Add(VringStats.LogPagesMarked, log.MarkRange(s.StatusGpa, 1));
    }

    /// <summary>
    /// A zero-copy request: the cipher from the guest's source into its destination, here under the vring's lock with
    /// the memory table of the fetch (so neither can be unmapped meanwhile). The lengths and IV are those read at
    /// fetch; the guest may rewrite its source meanwhile, which changes only its own output. ERR when the application
    /// did not ask for the built-in engine (Process) or libcrypto refused (a source and destination that partially
    /// overlap).
    /// </summary>
    private static byte RunZeroCopy(VhostCrypto crypto, CryptoQueue q, int slot, ref CryptoQueue.Slot s)
    {
        if (!s.ZeroCopyAsked || s.Session is not { } session) return VirtioCrypto.StatusErr;
        ZeroCopyCipher c = session.RentZeroCopy();
        bool ok;
        fixed (byte* staging = q.Staging)
        {
            // SAFETY: source and destination are runs of host memory the walker translated (Run checked them) in
            // the memory table still mapped; the IV is the slot's copy.
            ok = c.Run(staging + slot * CryptoQueue.SlotBytes + CryptoQueue.IvOffset, s.ZeroCopySrc, s.ZeroCopyDst, (int)s.Req.SrcDataLen);
        }
        session.ReturnZeroCopy(c);
        if (!ok) return VirtioCrypto.StatusErr;
        crypto.CountZeroCopied();
        return VirtioCrypto.StatusOk;
    }

    private void PublishCrypto(Vring vq, VringUsedElem* shadow, uint n)
    {
        // Release store of used.idx after the entries and every byte written into the guest's buffers above.
        vq.LastUsedIdx = vq.ColdFeatures == 0
            ? SplitUsedRing.Publish(vq.Used, vq.Size, shadow, n, vq.LastUsedIdx)
            : SplitColdPublish.Publish(this, vq, shadow, n);
        SplitUsedRing.NotifyIfWanted(this, vq, vq.Avail, vq.LastUsedIdx, VirtioFeatures.Has(Features, VirtioFeatures.RingEventIdx));
    }
}
