namespace HotPath.Engine.Crypto;

/// <summary>
/// One data-queue request as fetched (DPDK's rte_crypto_op for vhost-crypto): which queue slot holds its state, and
/// what it asks. <see cref="Status"/> is the verdict so far: OK for a request that was parsed and validated and waits
/// to be processed; anything else (BADMSG, NOTSUPP, INVSESS, ERR) is final and finalize only reports it to the guest.
/// Blittable, laid out as hotpath.h's struct hp_vhost_crypto_request (40 bytes). An application with its own engine reads its data through <see cref="VhostCrypto.Buffers"/>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct CryptoRequest
{
    public ushort QueueId;
    public ushort Slot;
    public byte Status;
    public ulong SessionId;
    public uint Opcode;
    public uint OpType;
    public uint SrcLen;
    public uint DstLen;
    public uint HashLen;
    private readonly uint _reserved;

    public readonly bool IsOk => Status == VirtioCrypto.StatusOk;
}
