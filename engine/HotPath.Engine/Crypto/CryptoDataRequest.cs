namespace HotPath.Engine.Crypto;

/// <summary>
/// struct virtio_crypto_op_data_req: the 72-byte header that starts every data-queue request (device-readable). The
/// symmetric request's parameters sit in a 40-byte union at offset 24: the cipher parameters
/// (virtio_crypto_cipher_para) or the chaining ones (virtio_crypto_alg_chain_data_para); op_type follows at 64.
/// It is copied out of guest memory once (by the request reader) and only the copy is read. A layout
/// test pins every offset.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 72)]
public struct CryptoDataRequest
{
    public const int WireSize = 72;

    [FieldOffset(0)] public uint Opcode;
    [FieldOffset(4)] public uint Algo;
    [FieldOffset(8)] public ulong SessionId;
    [FieldOffset(16)] public uint Flag;

    // Both para structs start with iv_len, src_data_len, dst_data_len.
    [FieldOffset(24)] public uint IvLen;
    [FieldOffset(28)] public uint SrcDataLen;
    [FieldOffset(32)] public uint DstDataLen;
    // Chaining only.
    [FieldOffset(36)] public uint CipherStartSrcOffset;
    [FieldOffset(40)] public uint LenToCipher;
    [FieldOffset(44)] public uint HashStartSrcOffset;
    [FieldOffset(48)] public uint LenToHash;
    [FieldOffset(52)] public uint AadLen;
    [FieldOffset(56)] public uint HashResultLen;

    [FieldOffset(64)] public uint OpType;
}
