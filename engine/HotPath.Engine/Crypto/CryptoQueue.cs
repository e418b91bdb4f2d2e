using HotPath.Engine.Datapath;
using HotPath.Engine.Memory;

namespace HotPath.Engine.Crypto;

/// <summary>
/// The request state of one crypto data queue, allocated once (the first fetch on the queue) and reused: a ring of
/// <see cref="Slots"/> request slots, each with its own copy of the request header, its IV, source data and digest
/// (staging, pinned), and the writable pieces of its chain (native). Requests are finalized in the order they were
/// fetched. Only the thread polling the queue touches it (as with a vring's burst scratch).
/// </summary>
internal sealed unsafe class CryptoQueue : IDisposable
{
    /// <summary>Requests in flight per queue (DPDK's VHOST_CRYPTO_MAX_BURST_SIZE is 64).</summary>
    public const int Slots = 32;
    /// <summary>Largest source or destination of one request: 64 KiB, the most a Linux guest's AF_ALG request holds
    /// (16 pages). Larger requests are refused with BADMSG.</summary>
    public const int MaxDataBytes = 64 * 1024;
    public const int MaxDigestBytes = 64;
    public const int IvOffset = 0, DataOffset = VirtioCrypto.AesBlock, DigestOffset = DataOffset + MaxDataBytes;
    public const int SlotBytes = DigestOffset + MaxDigestBytes;
    /// <summary>Host pieces held of one request's readable or writable part (descriptors plus region splits): enough
    /// for 64 KiB in pages plus header, IV, digest and status. A chain may have more (the walker checks them but holds
    /// only these); the data must lie in these.</summary>
    public const int MaxPieces = 64;

    public struct Slot
    {
        public ushort Head;
        public byte Status;
        public CryptoSession? Session;
        public CryptoDataRequest Req;
        public int Writable;          // pieces of this slot in WVec
        public byte* StatusByte;      // the chain's last writable byte
        public ulong StatusGpa;       // and its guest physical address (dirty logging)
        public byte* ZeroCopySrc;     // zero-copy: the source and destination in guest memory (null: copied)
        public byte* ZeroCopyDst;
        public bool ZeroCopyAsked;    // zero-copy: Process asked for the built-in engine (finalize runs it)

        public readonly bool IsZeroCopy => ZeroCopySrc != null;
        public uint UsedLen;          // 0: the status byte could not be located (nothing is written)
    }

    public readonly Slot[] Ring = new Slot[Slots];
    /// <summary>Per slot: IV, data (processed in place), digest.</summary>
    public readonly byte[] Staging = GC.AllocateArray<byte>(Slots * SlotBytes, pinned: true);
    /// <summary>Keystream and CBC-decrypt scratch of the built-in engine.</summary>
    public readonly byte[] Work = new byte[MaxDataBytes];
    public readonly BufPiece* RVec;
    public readonly BufPiece* WVec;        // Slots * MaxPieces
    public readonly VringUsedElem* Shadow; // Slots entries
    public int Head, Count;                // next slot to fetch into = (Head + Count) % Slots; next to finalize = Head
    /// <summary>The guest memory and ring the requests in flight were fetched from: finalize writes nothing when
    /// either was replaced since (the buffers the pieces point at may be unmapped).</summary>
    public GuestMemory? FetchedFrom;
    public byte* FetchedDesc;

    public CryptoQueue()
    {
        RVec = (BufPiece*)NativeMemory.AllocZeroed((nuint)MaxPieces * (nuint)sizeof(BufPiece));
        WVec = (BufPiece*)NativeMemory.AllocZeroed((nuint)(Slots * MaxPieces) * (nuint)sizeof(BufPiece));
        Shadow = (VringUsedElem*)NativeMemory.AllocZeroed((nuint)Slots * (nuint)sizeof(VringUsedElem));
    }

    public int Free => Slots - Count;

    public BufPiece* WritableOf(int slot) => WVec + slot * MaxPieces;

    public Span<byte> Iv(int slot) => Staging.AsSpan(slot * SlotBytes + IvOffset, VirtioCrypto.AesBlock);

    public int DataStart(int slot) => slot * SlotBytes + DataOffset;

    public Span<byte> Digest(int slot, uint len) => Staging.AsSpan(slot * SlotBytes + DigestOffset, (int)len);

    /// <summary>Drops every request in flight without writing to the guest (the device is going away), releasing sessions.</summary>
    public void Abandon()
    {
        for (; Count > 0; Count--, Head = (Head + 1) % Slots)
        {
            ref Slot s = ref Ring[Head];
            s.Session?.Release();
            s.Session = null;
        }
    }

    public void Dispose()
    {
        Abandon();
        NativeMemory.Free(RVec);
        NativeMemory.Free(WVec);
        NativeMemory.Free(Shadow);
    }
}
