using System.Runtime.CompilerServices;
using HotPath.Engine.Virtio;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;

namespace HotPath.Tests.Protocol;

/// <summary>Pins the size and every field offset of each wire struct to the C layouts of QEMU and DPDK.</summary>
public unsafe class WireLayoutTests
{
    private static int Off<T>(ref T s, ref byte field) where T : unmanaged =>
        (int)Unsafe.ByteOffset(ref Unsafe.As<T, byte>(ref s), ref field);

    [Fact]
    public void Message_header_is_12_bytes()
    {
        var h = new MessageHeader();
        Assert.Equal(12, sizeof(MessageHeader));
        Assert.Equal(0, Off(ref h, ref Unsafe.As<uint, byte>(ref h.Request)));
        Assert.Equal(4, Off(ref h, ref Unsafe.As<uint, byte>(ref h.Flags)));
        Assert.Equal(8, Off(ref h, ref Unsafe.As<uint, byte>(ref h.Size)));
    }

    [Fact]
    public void Vring_state_and_addr()
    {
        var s = new VringStatePayload();
        Assert.Equal(8, sizeof(VringStatePayload));
        Assert.Equal(4, Off(ref s, ref Unsafe.As<uint, byte>(ref s.Num)));
        var a = new VringAddrPayload();
        Assert.Equal(40, sizeof(VringAddrPayload));
        Assert.Equal(4, Off(ref a, ref Unsafe.As<uint, byte>(ref a.Flags)));
        Assert.Equal(8, Off(ref a, ref Unsafe.As<ulong, byte>(ref a.DescUserAddr)));
        Assert.Equal(16, Off(ref a, ref Unsafe.As<ulong, byte>(ref a.UsedUserAddr)));
        Assert.Equal(24, Off(ref a, ref Unsafe.As<ulong, byte>(ref a.AvailUserAddr)));
        Assert.Equal(32, Off(ref a, ref Unsafe.As<ulong, byte>(ref a.LogGuestAddr)));
    }

    [Fact]
    public void Memory_table_and_regions()
    {
        Assert.Equal(8, sizeof(MemoryTableHeader));
        var r = new MemoryRegionPayload();
        Assert.Equal(32, sizeof(MemoryRegionPayload));
        Assert.Equal(8, Off(ref r, ref Unsafe.As<ulong, byte>(ref r.MemorySize)));
        Assert.Equal(16, Off(ref r, ref Unsafe.As<ulong, byte>(ref r.UserspaceAddr)));
        Assert.Equal(24, Off(ref r, ref Unsafe.As<ulong, byte>(ref r.MmapOffset)));
        var m = new MemRegPayload();
        Assert.Equal(40, sizeof(MemRegPayload));
        Assert.Equal(8, Off(ref m, ref Unsafe.As<MemoryRegionPayload, byte>(ref m.Region)));
    }

    [Fact]
    public void Log_inflight_config_iotlb()
    {
        var l = new LogPayload();
        Assert.Equal(16, sizeof(LogPayload));
        Assert.Equal(8, Off(ref l, ref Unsafe.As<ulong, byte>(ref l.MmapOffset)));
        var i = new InflightPayload();
        Assert.Equal(24, sizeof(InflightPayload));
        Assert.Equal(16, Off(ref i, ref Unsafe.As<ushort, byte>(ref i.NumQueues)));
        Assert.Equal(18, Off(ref i, ref Unsafe.As<ushort, byte>(ref i.QueueSize)));
        var c = new ConfigPayload();
        Assert.Equal(268, sizeof(ConfigPayload));
        Assert.Equal(4, Off(ref c, ref Unsafe.As<uint, byte>(ref c.Size)));
        Assert.Equal(8, Off(ref c, ref Unsafe.As<uint, byte>(ref c.Flags)));
        Assert.Equal(12, Off(ref c, ref c.Region[0]));
        var t = new IotlbPayload();
        Assert.Equal(32, sizeof(IotlbPayload));
        Assert.Equal(24, Off(ref t, ref t.Perm));
        Assert.Equal(25, Off(ref t, ref t.Type));
    }

    [Fact]
    public void Ring_and_header_structs()
    {
        var d = new VringDesc();
        Assert.Equal(16, sizeof(VringDesc));
        Assert.Equal(8, Off(ref d, ref Unsafe.As<uint, byte>(ref d.Len)));
        Assert.Equal(12, Off(ref d, ref Unsafe.As<ushort, byte>(ref d.Flags)));
        Assert.Equal(14, Off(ref d, ref Unsafe.As<ushort, byte>(ref d.Next)));
        Assert.Equal(8, sizeof(VringUsedElem));
        var p = new VringPackedDesc();
        Assert.Equal(16, sizeof(VringPackedDesc));
        Assert.Equal(12, Off(ref p, ref Unsafe.As<ushort, byte>(ref p.Id)));
        Assert.Equal(14, Off(ref p, ref Unsafe.As<ushort, byte>(ref p.Flags)));
        Assert.Equal(4, sizeof(VringPackedEvent));
        var h = new VirtioNetHeader();
        Assert.Equal(12, sizeof(VirtioNetHeader));
        Assert.Equal(2, Off(ref h, ref Unsafe.As<ushort, byte>(ref h.HdrLen)));
        Assert.Equal(6, Off(ref h, ref Unsafe.As<ushort, byte>(ref h.CsumStart)));
        Assert.Equal(10, Off(ref h, ref Unsafe.As<ushort, byte>(ref h.NumBuffers)));
    }

    [Fact]
    public void Crypto_session_payload_is_qemus_vhost_user_crypto_session()
    {
        var p = new CryptoSessionPayload();
        Assert.Equal(632, sizeof(CryptoSessionPayload));
        Assert.Equal(8, Off(ref p, ref Unsafe.As<uint, byte>(ref p.OpCode)));
        Assert.Equal(12, Off(ref p, ref Unsafe.As<uint, byte>(ref p.CipherAlgo)));
        Assert.Equal(16, Off(ref p, ref Unsafe.As<uint, byte>(ref p.CipherKeyLen)));
        Assert.Equal(20, Off(ref p, ref Unsafe.As<uint, byte>(ref p.HashAlgo)));
        Assert.Equal(24, Off(ref p, ref Unsafe.As<uint, byte>(ref p.DigestLen)));
        Assert.Equal(28, Off(ref p, ref Unsafe.As<uint, byte>(ref p.AuthKeyLen)));
        Assert.Equal(32, Off(ref p, ref Unsafe.As<uint, byte>(ref p.AadLen)));
        Assert.Equal(36, Off(ref p, ref p.OpType));
        Assert.Equal(37, Off(ref p, ref p.Direction));
        Assert.Equal(38, Off(ref p, ref p.HashMode));
        Assert.Equal(39, Off(ref p, ref p.ChainOrder));
        Assert.Equal(40, Off(ref p, ref Unsafe.As<ulong, byte>(ref p.CipherKeyPointer)));
        Assert.Equal(48, Off(ref p, ref Unsafe.As<ulong, byte>(ref p.AuthKeyPointer)));
        Assert.Equal(56, Off(ref p, ref p.CipherKey[0]));
        Assert.Equal(120, Off(ref p, ref p.AuthKey[0]));
    }

    [Fact]
    public void Crypto_data_request_is_virtio_crypto_op_data_req()
    {
        var r = new HotPath.Engine.Crypto.CryptoDataRequest();
        Assert.Equal(72, sizeof(HotPath.Engine.Crypto.CryptoDataRequest));
        Assert.Equal(4, Off(ref r, ref Unsafe.As<uint, byte>(ref r.Algo)));
        Assert.Equal(8, Off(ref r, ref Unsafe.As<ulong, byte>(ref r.SessionId)));
        Assert.Equal(16, Off(ref r, ref Unsafe.As<uint, byte>(ref r.Flag)));
        Assert.Equal(24, Off(ref r, ref Unsafe.As<uint, byte>(ref r.IvLen)));
        Assert.Equal(28, Off(ref r, ref Unsafe.As<uint, byte>(ref r.SrcDataLen)));
        Assert.Equal(32, Off(ref r, ref Unsafe.As<uint, byte>(ref r.DstDataLen)));
        Assert.Equal(36, Off(ref r, ref Unsafe.As<uint, byte>(ref r.CipherStartSrcOffset)));
        Assert.Equal(40, Off(ref r, ref Unsafe.As<uint, byte>(ref r.LenToCipher)));
        Assert.Equal(44, Off(ref r, ref Unsafe.As<uint, byte>(ref r.HashStartSrcOffset)));
        Assert.Equal(48, Off(ref r, ref Unsafe.As<uint, byte>(ref r.LenToHash)));
        Assert.Equal(52, Off(ref r, ref Unsafe.As<uint, byte>(ref r.AadLen)));
        Assert.Equal(56, Off(ref r, ref Unsafe.As<uint, byte>(ref r.HashResultLen)));
        Assert.Equal(64, Off(ref r, ref Unsafe.As<uint, byte>(ref r.OpType)));
    }

    [Fact]
    public void Crypto_request_is_hotpath_h_struct_hp_vhost_crypto_request()
    {
        var r = new HotPath.Engine.Crypto.CryptoRequest();
        Assert.Equal(40, sizeof(HotPath.Engine.Crypto.CryptoRequest));
        Assert.Equal(2, Off(ref r, ref Unsafe.As<ushort, byte>(ref r.Slot)));
        Assert.Equal(4, Off(ref r, ref r.Status));
        Assert.Equal(8, Off(ref r, ref Unsafe.As<ulong, byte>(ref r.SessionId)));
        Assert.Equal(16, Off(ref r, ref Unsafe.As<uint, byte>(ref r.Opcode)));
        Assert.Equal(20, Off(ref r, ref Unsafe.As<uint, byte>(ref r.OpType)));
        Assert.Equal(24, Off(ref r, ref Unsafe.As<uint, byte>(ref r.SrcLen)));
        Assert.Equal(28, Off(ref r, ref Unsafe.As<uint, byte>(ref r.DstLen)));
        Assert.Equal(32, Off(ref r, ref Unsafe.As<uint, byte>(ref r.HashLen)));
    }

    [Fact]
    public void Socket_structs_match_linux_x86_64()
    {
        Assert.Equal(110, sizeof(SockAddrUn));
        Assert.Equal(56, sizeof(MsgHdr));
        Assert.Equal(16, sizeof(IoVec));
        Assert.Equal(16, sizeof(CmsgHdr));
        Assert.Equal(12, sizeof(EpollEvent));
        Assert.Equal(144, sizeof(HotPath.Engine.Interop.Stat));
    }
}
