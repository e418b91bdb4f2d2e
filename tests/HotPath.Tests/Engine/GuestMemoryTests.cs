using HotPath.Engine.Memory;
using HotPath.Frontend.Memory;

namespace HotPath.Tests.Engine;

/// <summary>Mapping real memfds and translating through the engine's memory table.</summary>
public unsafe class GuestMemoryTests
{
    private static MappedRegion MapFrom(FrontendMemory.Region r)
    {
        int fd = HotPath.Engine.Interop.LibC.dup(r.Fd);
        var d = new RegionDescriptor(r.GuestPhysAddr, r.Size, r.UserAddr, r.MmapOffset);
        Assert.Equal(MemoryError.None, MappedRegion.TryMap(fd, d, out MappedRegion? m));
        return m!;
    }

    [Fact]
    public void Translation_sees_the_frontends_bytes_and_clamps_at_region_end()
    {
        using var fe = FrontendMemory.Create(new ulong[] { 4 << 20, 4 << 20 });
        var regions = fe.Regions.Select(MapFrom).ToList();
        Assert.Equal(MemoryError.None, GuestMemory.TryCreate(regions, out GuestMemory? table));
        using (table)
        {
            ulong gpa = fe.Alloc(100, region: 1);
            fe.Host(gpa)[7] = 0xAB;
            ulong len = 100;
            byte* h = table!.GpaToHost(gpa, ref len);
            Assert.Equal(100UL, len);
            Assert.Equal(0xAB, h[7]);

            var r0 = fe.Regions[0];
            ulong tail = 16;
            byte* end = table.GpaToHost(r0.GuestPhysAddr + r0.Size - 4, ref tail);
            Assert.True(end != null);
            Assert.Equal(4UL, tail);                                             // clamped: region ends there
            Assert.True(table.GpaToHostExact(r0.GuestPhysAddr + r0.Size - 4, 16) == null);
            ulong gapLen = 8;
            Assert.True(table.GpaToHost(r0.GuestPhysAddr + r0.Size, ref gapLen) == null);   // the gap is unmapped
            Assert.Equal(0UL, gapLen);
            Assert.True(table.QvaToHost(r0.UserAddr + 64, 64) == regions[0].Host + 64);
        }
        regions.ForEach(r => r.Dispose());
    }

    [Theory]
    [InlineData(0x1000UL, 0UL, 0UL, MemoryError.ZeroSize)]
    [InlineData(ulong.MaxValue - 10, 0x1000UL, 0UL, MemoryError.GuestAddressOverflow)]
    [InlineData(0x1000UL, 0x1000UL, ulong.MaxValue - 5, MemoryError.OffsetOverflow)]
    public void Region_descriptor_arithmetic_is_checked(ulong gpa, ulong size, ulong offset, MemoryError expected)
    {
        var d = new RegionDescriptor(gpa, size, 0x7000_0000, offset);
        Assert.Equal(expected, d.Validate());
    }

    [Fact]
    public void Region_larger_than_its_fd_is_refused_before_mapping()
    {
        using var fe = FrontendMemory.Create(2 << 20);
        var r = fe.Regions[0];
        var d = new RegionDescriptor(r.GuestPhysAddr, r.Size + 4096, r.UserAddr, 0);
        Assert.Equal(MemoryError.FdTooSmall, MappedRegion.TryMap(r.Fd, d, out var m));
        Assert.Null(m);
    }

    [Fact]
    public void Overlapping_regions_are_refused()
    {
        using var fe = FrontendMemory.Create(new ulong[] { 2 << 20, 2 << 20 });
        var a = MapFrom(fe.Regions[0]);
        int fd = HotPath.Engine.Interop.LibC.dup(fe.Regions[1].Fd);
        var d = new RegionDescriptor(a.GuestPhysAddr + 4096, 1 << 20, fe.Regions[1].UserAddr, 0);
        Assert.Equal(MemoryError.None, MappedRegion.TryMap(fd, d, out var b));
        Assert.Equal(MemoryError.Overlap, GuestMemory.TryCreate(new[] { a, b! }, out var t));
        Assert.Null(t);
        a.Dispose();
        b!.Dispose();
    }

    [Fact]
    public void Sixty_four_regions_use_the_search_path()
    {
        var sizes = Enumerable.Repeat((ulong)(2 << 20), 64).ToArray();
        using var fe = FrontendMemory.Create(sizes);
        var regions = fe.Regions.Select(MapFrom).ToList();
        Assert.Equal(MemoryError.None, GuestMemory.TryCreate(regions, out var table));
        using (table)
        {
            for (int i = 0; i < 64; i++)
            {
                var r = fe.Regions[i];
                r.Host[123] = (byte)i;
                ulong len = 1;
                Assert.Equal((byte)i, table!.GpaToHost(r.GuestPhysAddr + 123, ref len)[0]);
                Assert.Equal(i, table.FindRegion(r.GuestPhysAddr + r.Size - 1));
                Assert.Equal(-1, table.FindRegion(r.GuestPhysAddr + r.Size));
            }
        }
        regions.ForEach(r => r.Dispose());
    }
}
