using HotPath.Engine.Datapath;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Crypto;

/// <summary>
/// Turns one data-queue chain into a request slot, reading guest memory once: the chain's descriptors once each
/// (<see cref="CryptoChainWalker"/>), the 72-byte request header once into the slot, then the IV and the source
/// data once into the slot's staging. Every length in the header is a claim: it is bounded by the engine's limits
/// and by the bytes the chain really has before anything is copied (the 2020 vhost-crypto CVEs trusted them). The
/// status byte is the chain's last writable byte; when it cannot be located (a bad chain, no writable part) the
/// request is returned used with length 0 and nothing is written. Once it is located, every refusal is written there.
/// </summary>
internal static unsafe class CryptoRequestReader
{
    public static void Read(VhostCrypto crypto, Vring vq, GuestMemory mem, CryptoQueue q, int slot, ushort head)
    {
        ref CryptoQueue.Slot s = ref q.Ring[slot];
        s = default;
        s.Head = head;
        BufPiece* w = q.WritableOf(slot);
        CryptoChainWalker.Result walk = CryptoChainWalker.Walk(mem, vq.Desc, vq.Size, head, q.RVec, CryptoQueue.MaxPieces,
            w, CryptoQueue.MaxPieces);
        if (walk.Reason != DropReason.None)
        {
            vq.Stats.Drop(walk.Reason);
            s.Status = VirtioCrypto.StatusBadMsg;
            if (walk.Last != null)
            {
                // A refused chain whose status byte is still known (see CryptoChainWalker.LastEntryStatus).
                s.StatusByte = walk.Last;
                s.StatusGpa = walk.LastGpa;
                s.UsedLen = 1;
            }
            return;
        }
        if (walk.Last == null)
        {
            vq.Stats.Drop(DropReason.ChainTooShort);
            s.Status = VirtioCrypto.StatusBadMsg;
            return;
        }
        s.Writable = walk.Writable;
        s.StatusByte = walk.Last;
        s.StatusGpa = walk.LastGpa;
        s.UsedLen = 1;   // from here on the status byte is known: at least it is written
        s.Status = Parse(crypto, q, slot, ref s, walk);
        if (s.Status != VirtioCrypto.StatusOk && s.Session != null)
        {
            s.Session.Release();
            s.Session = null;
        }
    }

    private static byte Parse(VhostCrypto crypto, CryptoQueue q, int slot, ref CryptoQueue.Slot s, CryptoChainWalker.Result walk)
    {
        if (walk.ReadableHeld < CryptoDataRequest.WireSize) return VirtioCrypto.StatusBadMsg;
        CryptoDataRequest req;
        // The header is copied once; everything below reads the copy.
        CryptoChainWalker.Gather(q.RVec, walk.Readable, 0, (byte*)&req, CryptoDataRequest.WireSize);
        s.Req = req;

        uint service = req.Opcode >> 8;
        if (req.Opcode is not (VirtioCrypto.CipherEncrypt or VirtioCrypto.CipherDecrypt))
            return service <= VirtioCrypto.ServiceAead ? VirtioCrypto.StatusNotSupp : VirtioCrypto.StatusBadMsg;
        if (req.OpType is not (VirtioCrypto.SymOpCipher or VirtioCrypto.SymOpChaining))
            return req.OpType == VirtioCrypto.SymOpNone ? VirtioCrypto.StatusNotSupp : VirtioCrypto.StatusBadMsg;

        CryptoSession? session = crypto.Sessions.Find(req.SessionId);
        if (session == null || !session.TryAcquire()) return VirtioCrypto.StatusInvSess;
        s.Session = session;
        bool chained = req.OpType == VirtioCrypto.SymOpChaining;
        if (chained != session.Chained || (req.Opcode == VirtioCrypto.CipherEncrypt) != session.Encrypt) return VirtioCrypto.StatusBadMsg;

        // Lengths: each bounded on its own first, so no sum below can overflow 64 bits.
        uint iv = req.IvLen, src = req.SrcDataLen, dst = req.DstDataLen;
        uint hash = chained ? req.HashResultLen : 0;
        if (iv != VirtioCrypto.AesBlock || src > CryptoQueue.MaxDataBytes || dst < src || dst > CryptoQueue.MaxDataBytes)
            return VirtioCrypto.StatusBadMsg;
        bool cbc = session.CipherAlgo == VirtioCrypto.CipherAesCbc;
        if (chained)
        {
            if (hash != session.DigestLen || req.AadLen != 0) return VirtioCrypto.StatusBadMsg;
            if ((ulong)req.CipherStartSrcOffset + req.LenToCipher > src || (ulong)req.HashStartSrcOffset + req.LenToHash > src)
                return VirtioCrypto.StatusBadMsg;
            if (cbc && req.LenToCipher % VirtioCrypto.AesBlock != 0) return VirtioCrypto.StatusBadMsg;
        }
        else if (cbc && src % VirtioCrypto.AesBlock != 0) return VirtioCrypto.StatusBadMsg;

        // The chain must hold what the header claims: header + IV + source readable, destination + digest + status
        // writable; the first two in the pieces held (more than CryptoQueue.MaxPieces of them for 64 KiB is no guest's).
        if (walk.ReadableHeld < (ulong)CryptoDataRequest.WireSize + iv + src) return VirtioCrypto.StatusBadMsg;
        if (walk.WritableHeld < (ulong)dst + hash || walk.WritableBytes < (ulong)dst + hash + 1) return VirtioCrypto.StatusBadMsg;

        // Zero-copy: a cipher-only request whose source and destination each lie in one run of host memory keeps
        // them there (finalize ciphers from one into the other); the IV is copied all the same.
        if (crypto.ZeroCopy && !chained && src != 0)
        {
            s.ZeroCopySrc = CryptoChainWalker.Run(q.RVec, walk.Readable, (ulong)CryptoDataRequest.WireSize + iv, src);
            s.ZeroCopyDst = s.ZeroCopySrc == null ? null : CryptoChainWalker.Run(q.WritableOf(slot), walk.Writable, 0, src);
            if (s.ZeroCopyDst == null) s.ZeroCopySrc = null;
        }
        fixed (byte* staging = q.Staging)
        {
            byte* slotBase = staging + slot * CryptoQueue.SlotBytes;
            CryptoChainWalker.Gather(q.RVec, walk.Readable, CryptoDataRequest.WireSize, slotBase + CryptoQueue.IvOffset, iv);
            if (s.ZeroCopySrc == null)
                CryptoChainWalker.Gather(q.RVec, walk.Readable, (ulong)CryptoDataRequest.WireSize + iv, slotBase + CryptoQueue.DataOffset, src);
        }
        s.UsedLen = dst + hash + 1;
        return VirtioCrypto.StatusOk;
    }
}
