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
