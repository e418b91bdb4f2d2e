using HotPath.Engine.Buffers;
using HotPath.Engine.Interop;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Buffers;

/// <summary>Pool creation: backing memory, object layout, argument validation and the C-ABI entry points.</summary>
public unsafe class MempoolCreateTests
{
    private static void AssertObjectsLaidOut(Mempool pool)
    {
        MempoolHeader* mp = pool.Header;
        for (uint i = 0; i < pool.Count; i++)
        {
            Mbuf* m = MempoolHeader.Object(mp, i);
            Assert.Equal(0UL, (ulong)m % 64);
            Assert.True(m->BufAddr == (byte*)m + Mbuf.HeaderSize);
            Assert.Equal((ulong)m->BufAddr, m->BufIova);
            Assert.Equal(pool.DataRoom, m->BufLen);
            Assert.True(m->Pool == mp);
        }
    }

    [HugepageFact]
    public void Hugepages_are_the_default_and_the_pool_says_so()
    {
        using var pool = Mempool.Create(PoolFixtures.Name("huge"), 1024, 32, 2176);
        Assert.Equal(MempoolBacking.Hugepages, pool.Backing);
        Assert.Contains("hugepages", pool.BackingNote);
        Assert.Equal(MempoolBacking.Hugepages, pool.Header->Backing);
        MapsEntry? map = ProcMaps.Find((ulong)MempoolHeader.Object(pool.Header, 0));
        Assert.NotNull(map);
        Assert.Contains("anon_hugepage", map.Value.Path);
        Assert.Equal(0UL, map.Value.Start % (2 << 20));
        AssertObjectsLaidOut(pool);
        // Faulted in at creation: the datapath never takes a first-touch fault that zeroes a 2 MiB page.
        PageBlock b = pool.Header->ObjectBlock;
        Assert.Equal((long)b.MapLength, ProcMaps.SmapsBytes((ulong)b.MapBase, "Private_Hugetlb"));
        Mbuf* m = pool.Alloc();
        Assert.Equal(128, m->DataOff);
        Assert.Equal(2176 - 128, m->TailRoom);
        MbufOps.Free(m);
    }

    [Fact]
    public void NoHuge_puts_the_objects_on_normal_pages_and_says_why()
    {
        using var pool = Mempool.Create(PoolFixtures.Name("nohuge"), 1000, 0, 2176, MempoolFlags.NoHuge);
        Assert.Equal(MempoolBacking.NormalPages, pool.Backing);
        Assert.Contains("NO_HUGE", pool.BackingNote);
        MapsEntry? map = ProcMaps.Find((ulong)MempoolHeader.Object(pool.Header, 999));
        Assert.NotNull(map);
        Assert.DoesNotContain("hugepage", map.Value.Path);
        AssertObjectsLaidOut(pool);
    }

    [Fact]
    public void The_object_area_is_resident_from_creation_even_where_nothing_wrote()
    {
        // 64 KiB data rooms: the layout loop writes only each object's first line, most pages only the kernel touched.
        using var pool = Mempool.Create(PoolFixtures.Name("resident"), 64, 0, 65535, MempoolFlags.NoHuge);
        PageBlock b = pool.Header->ObjectBlock;
        Assert.Equal((long)b.MapLength, ProcMaps.SmapsBytes((ulong)b.MapBase, "Rss"));
    }

    [Fact]
    public void A_failed_hugepage_mapping_falls_back_to_normal_pages_with_the_reason()
    {
        using (PoolFixtures.FailHugepages(LibC.ENOMEM))
        {
            using var pool = Mempool.Create(PoolFixtures.Name("fallback"), 512, 16, 2176);
            Assert.Equal(MempoolBacking.NormalPages, pool.Backing);
            Assert.Contains("MAP_HUGETLB", pool.BackingNote);
            Assert.Contains(LibC.StrError(LibC.ENOMEM), pool.BackingNote);
            Assert.Contains("HugePages_Free=", pool.BackingNote);
            Mbuf* m = pool.Alloc();
            Assert.True(m != null);
            MbufOps.Free(m);
            Assert.Equal(0u, pool.InUse);
        }
    }

    [Theory]
    [InlineData(null, 64u, 0u, (ushort)2176, 0u, "name is null")]
    [InlineData("", 64u, 0u, (ushort)2176, 0u, "name is empty")]
    [InlineData("a-name-that-is-much-longer-than-31-bytes", 64u, 0u, (ushort)2176, 0u, "maximum is 31")]
    [InlineData("p", 0u, 0u, (ushort)2176, 0u, "count is 0")]
    [InlineData("p", 0xFFFF_FFFFu, 0u, (ushort)2176, 0u, "exceeds the maximum")]
    [InlineData("p", 4096u, 513u, (ushort)2176, 0u, "cache_size 513 exceeds the maximum 512")]
    [InlineData("p", 64u, 64u, (ushort)2176, 0u, "too large for 64 objects")]
    [InlineData("p", 64u, 0u, (ushort)128, 0u, "includes the 128-byte headroom")]
    [InlineData("p", 64u, 0u, (ushort)0, 0u, "leaves no room")]
    [InlineData("p", 64u, 0u, (ushort)2176, 4u, "unknown flag bits 0x4")]
    [InlineData("p", 100_000_000u, 0u, (ushort)65535, 0u, "more than this machine")]
    public void Bad_arguments_are_refused_with_a_readable_reason(string? name, uint count, uint cache, ushort room, uint flags, string reason)
    {
        var e = Assert.Throws<ArgumentException>(() => Mempool.Create(name!, count, cache, room, (MempoolFlags)flags));
        Assert.Contains(reason, e.Message);
        Assert.Null(Mempool.TryCreate(name!, count, cache, room, (MempoolFlags)flags, out string? error));
        Assert.Contains(reason, error);
        Assert.True(Mempool.CreateNative(name!, count, cache, room, (MempoolFlags)flags, out error) == null);
        Assert.Contains(reason, error);
    }

    [Fact]
    public void The_C_ABI_entry_points_create_find_and_free_a_pool_by_its_header()
    {
        string name = PoolFixtures.Name("cabi");
        MempoolHeader* mp = Mempool.CreateNative(name, 256, 8, 2176, MempoolFlags.NoHuge, out string? error);
        Assert.Null(error);
        Assert.True(mp != null);
        Mempool? owner = MbufOps.Owner(mp);
        Assert.NotNull(owner);
        Assert.Equal(name, owner.Name);
        Assert.True(owner.Header == mp);
        Assert.Equal(256u, owner.Count);
        Assert.Equal(8u, owner.CacheSize);
        Assert.Equal(256u, owner.Available);

        Mbuf* m = MbufOps.Alloc(mp);
        Assert.Equal(1u, MbufOps.InUse(mp));
        MbufOps.Free(m);
        Assert.True(Mempool.FreeNative(mp));
        Assert.Null(MbufOps.Owner(mp));
        Assert.False(Mempool.FreeNative(mp));     // a stale pointer is refused, not freed twice
        Assert.True(Mempool.FreeNative(null));
        Assert.Throws<ObjectDisposedException>(() => owner.InUse);
    }
}
