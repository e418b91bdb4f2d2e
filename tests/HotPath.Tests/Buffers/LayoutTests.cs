using HotPath.Engine.Buffers;
using HotPath.Engine.Rings;

namespace HotPath.Tests.Buffers;

/// <summary>Pins the native layouts C code and the datapath rely on.</summary>
public unsafe class LayoutTests
{
    private static int Off(void* s, void* field) => (int)((byte*)field - (byte*)s);

    [Fact]
    public void Mbuf_is_two_cache_lines_with_rte_mbuf_field_offsets()
    {
        Assert.Equal(128, sizeof(Mbuf));
        Assert.Equal(Mbuf.HeaderSize, sizeof(Mbuf));
        Mbuf m = default;
        Mbuf* p = &m;
        var fields = new (string Name, int Actual, int Want)[]
        {
            ("buf_addr", Off(p, &p->BufAddr), 0),
            ("buf_iova", Off(p, &p->BufIova), 8),
            ("data_off", Off(p, &p->DataOff), 16),
            ("refcnt", Off(p, &p->RefCnt), 18),
            ("nb_segs", Off(p, &p->NbSegs), 20),
            ("port", Off(p, &p->Port), 22),
            ("ol_flags", Off(p, &p->OlFlags), 24),
            ("packet_type", Off(p, &p->PacketType), 32),
            ("pkt_len", Off(p, &p->PktLen), 36),
            ("data_len", Off(p, &p->DataLen), 40),
            ("vlan_tci", Off(p, &p->VlanTci), 42),
            ("buf_len", Off(p, &p->BufLen), 44),
            ("vlan_tci_outer", Off(p, &p->VlanTciOuter), 46),
            ("hash", Off(p, &p->Hash), 48),
            ("pool", Off(p, &p->Pool), 56),
            ("next", Off(p, &p->Next), 64),
            ("tx_offload", Off(p, &p->TxOffload), 72),
            ("shinfo", Off(p, &p->ShInfo), 80),
            ("priv_size", Off(p, &p->PrivSize), 88),
            ("timesync", Off(p, &p->Timesync), 90),
            ("reserved", Off(p, &p->Reserved), 92),
            ("dynfield", Off(p, p->Dynfield), 96),
        };
        foreach (var f in fields) Assert.True(f.Actual == f.Want, $"{f.Name}: offset {f.Actual}, want {f.Want}");
    }

    [Fact]
    public void Mbuf_data_is_buf_addr_plus_data_off()
    {
        Mbuf m = default;
        byte* buf = stackalloc byte[256];
        m.BufAddr = buf;
        m.BufLen = 256;
        m.DataOff = 128;
        m.DataLen = 100;
        Assert.True(m.Data == buf + 128);
        Assert.Equal(28, m.TailRoom);
    }

    [Fact]
    public void Ring_sides_sit_on_their_own_cache_line_pairs()
    {
        Assert.Equal(RingHeader.HeaderSize, sizeof(RingHeader));
        Assert.Equal(128, sizeof(RingIndexes));
        Assert.Equal(64, sizeof(PageBlock));
        RingHeader r = default;
        RingHeader* p = &r;
        Assert.Equal(128, Off(p, &p->Prod.Head));
        Assert.Equal(132, Off(p, &p->Prod.Tail));
        Assert.Equal(136, Off(p, &p->Prod.OppositeTailCache));
        Assert.Equal(256, Off(p, &p->Cons.Head));
        Assert.Equal(260, Off(p, &p->Cons.Tail));
        Assert.Equal(264, Off(p, &p->Cons.OppositeTailCache));
        Assert.True(Off(p, &p->Block) + sizeof(PageBlock) <= 128, "configuration ends before the producer line");
        Assert.True(Off(p, p->Name) + RingHeader.NameSize <= Off(p, &p->Block), "name and block do not overlap");
    }

    [Fact]
    public void Mempool_header_keeps_the_hot_fields_on_its_first_line()
    {
        Assert.Equal(MempoolHeader.Size, sizeof(MempoolHeader));
        Assert.Equal(MempoolCache.HeaderSize, sizeof(MempoolCache));
        MempoolHeader h = default;
        MempoolHeader* p = &h;
        Assert.Equal(0, Off(p, &p->Magic));
        Assert.Equal(4, Off(p, &p->CacheSize));
        Assert.Equal(8, Off(p, &p->FlushThreshold));
        Assert.Equal(12, Off(p, &p->CacheStride));
        Assert.Equal(16, Off(p, &p->Caches));
        Assert.Equal(24, Off(p, &p->Ring));
        Assert.Equal(32, Off(p, &p->DataRoom));
        Assert.Equal(34, Off(p, &p->Headroom));
        Assert.Equal(36, Off(p, &p->ElementSize));
        Assert.Equal(40, Off(p, &p->Objects));
        Assert.Equal(48, Off(p, &p->Count));
        Assert.Equal(52, Off(p, &p->Flags));
        Assert.Equal(56, Off(p, &p->Backing));
        Assert.Equal(64, Off(p, p->Name));
        Assert.Equal(96, Off(p, &p->BadFrees));
        Assert.Equal(128, Off(p, &p->MetaBlock));
        Assert.Equal(192, Off(p, &p->ObjectBlock));
    }
}
