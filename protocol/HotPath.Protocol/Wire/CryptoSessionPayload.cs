using System.Runtime.InteropServices;

namespace HotPath.Protocol.Wire;

/// <summary>
/// VhostUserCryptoSession (QEMU hw/virtio/vhost-user.c; DPDK's VhostUserCryptoSessionParam): the payload of
/// CREATE_CRYPTO_SESSION, and of its reply with <see cref="SessionId"/> filled in (-1 on error). The two pointer
/// fields of QEMU's CryptoDevBackendSymSessionInfo travel as garbage and are never read; the keys are in the fixed
/// buffers, their lengths in <see cref="CipherKeyLen"/> and <see cref="AuthKeyLen"/>. 632 bytes.
/// Two layouts travel with this size: DPDK 22.11 and QEMU up to 7.0 have op_code at 8 (the fields below without a
/// prefix); QEMU 7.1 to 8.0 moved op_code out of CryptoDevBackendSymSessionInfo (the akcipher rework) and copy the
/// struct as is, so every field up to the pointers sits 4 bytes earlier (the <c>Sym</c> fields) and the key buffers
/// stay where they were. <see cref="HasOpCode"/> tells them apart.
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

    // QEMU 7.1-8.0's layout (CryptoDevBackendSymSessionInfo without op_code).
    [FieldOffset(8)] public uint SymCipherAlgo;
    [FieldOffset(12)] public uint SymCipherKeyLen;
    [FieldOffset(16)] public uint SymHashAlgo;
    [FieldOffset(20)] public uint SymDigestLen;
    [FieldOffset(24)] public uint SymAuthKeyLen;
    [FieldOffset(28)] public uint SymAadLen;
    [FieldOffset(32)] public byte SymOpType;
    [FieldOffset(33)] public byte SymDirection;
    [FieldOffset(34)] public byte SymHashMode;
    [FieldOffset(35)] public byte SymChainOrder;

    /// <summary>
    /// The field at 8 is a VIRTIO_CRYPTO_{CIPHER,HASH,MAC,AEAD}_CREATE_SESSION opcode (0x02, 0x102, 0x202, 0x302): the
    /// layout with op_code. In the other layout it is a cipher algorithm, and the one that collides (2, AES-ECB) is
    /// refused under either reading (HotPath's engine has no ECB).
    /// </summary>
    public readonly bool HasOpCode => (OpCode & 0xff) == 0x02 && OpCode >> 8 <= 3;

    [FieldOffset(CipherKeyOffset)] public fixed byte CipherKey[CipherKeyBufferSize];
    [FieldOffset(AuthKeyOffset)] public fixed byte AuthKey[AuthKeyBufferSize];
}
