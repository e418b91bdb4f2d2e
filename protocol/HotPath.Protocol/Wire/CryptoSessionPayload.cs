using System.Runtime.InteropServices;

namespace HotPath.Protocol.Wire;

/// <summary>
/// VhostUserCryptoSession (QEMU hw/virtio/vhost-user.c; DPDK's VhostUserCryptoSessionParam): the payload of
/// CREATE_CRYPTO_SESSION, and of its reply with <see cref="SessionId"/> filled in (-1 on error). The two pointer
/// fields of QEMU's CryptoDevBackendSymSessionInfo travel as garbage and are never read; the keys are in the fixed
/// buffers, their lengths in <see cref="CipherKeyLen"/> and <see cref="AuthKeyLen"/>. 632 bytes.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = WireSize)]
public unsafe struct CryptoSessionPayload
{
    public const int WireSize = 632, CipherKeyBufferSize = 64, AuthKeyBufferSize = 512;
    public const int CipherKeyOffset = 56, AuthKeyOffset = CipherKeyOffset + CipherKeyBufferSize;

    [FieldOffset(0)] public long SessionId;
    [FieldOffset(8)] public uint OpCode;
    [FieldOffset(12)] public uint CipherAlgo;
    [FieldOffset(16)] public uint CipherKeyLen;
    [FieldOffset(20)] public uint HashAlgo;
    [FieldOffset(24)] public uint DigestLen;
    [FieldOffset(28)] public uint AuthKeyLen;
    [FieldOffset(32)] public uint AadLen;
    [FieldOffset(36)] public byte OpType;
    [FieldOffset(37)] public byte Direction;
    [FieldOffset(38)] public byte HashMode;
    [FieldOffset(39)] public byte ChainOrder;
    [FieldOffset(40)] public ulong CipherKeyPointer;
    [FieldOffset(48)] public ulong AuthKeyPointer;
    [FieldOffset(CipherKeyOffset)] public fixed byte CipherKey[CipherKeyBufferSize];
    [FieldOffset(AuthKeyOffset)] public fixed byte AuthKey[AuthKeyBufferSize];
}
