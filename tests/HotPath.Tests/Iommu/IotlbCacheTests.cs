using HotPath.Engine.Iommu;

namespace HotPath.Tests.Iommu;

/// <summary>The per-device IOTLB cache on its own: ordering, overlaps, splitting invalidations, lookups, its bound.</summary>
public sealed class IotlbCacheTests
{
    private const byte RO = IotlbPerm.Read, WO = IotlbPerm.Write, RW = IotlbPerm.ReadWrite;

    [Fact]
    public void Updates_stay_sorted_and_an_overlapping_update_replaces_what_it_covers()
    {
        var c = new IotlbCache();
        c.Insert(new IotlbEntry(0x3000, 0x1000, 0x13000, RW));
        c.Insert(new IotlbEntry(0x1000, 0x1000, 0x11000, RO));
        c.Insert(new IotlbEntry(0x0, 0x4000, 0x50000, WO));   // covers both
        Assert.Equal(new[] { new IotlbEntry(0x0, 0x4000, 0x50000, WO) }, c.Entries);
        c.Insert(new IotlbEntry(0x1000, 0x1000, 0x70000, RW));   // inside it: the old one is split around it
        Assert.Equal(new[]
        {
            new IotlbEntry(0x0, 0x1000, 0x50000, WO),
            new IotlbEntry(0x1000, 0x1000, 0x70000, RW),
            new IotlbEntry(0x2000, 0x2000, 0x52000, WO),
        }, c.Entries);
    }

    [Fact]
    public void Invalidation_removes_exactly_its_range_and_splits_partly_covered_mappings()
    {
        var c = new IotlbCache();
        c.Insert(new IotlbEntry(0x0, 0x10000, 0x100000, RW));
        c.Insert(new IotlbEntry(0x20000, 0x1000, 0x200000, RO));
        c.Remove(0x4000, 0x4FFF);   // the middle of the first
        c.Remove(0xF000, 0x20FFF);  // its tail and the whole second
        Assert.Equal(new[]
        {
            new IotlbEntry(0x0, 0x4000, 0x100000, RW),
            new IotlbEntry(0x5000, 0xA000, 0x105000, RW),
        }, c.Entries);
        Assert.Equal(-1, c.Find(0x4800));
        Assert.Equal(1, c.Find(0xEFFF));
        Assert.Equal(-1, c.Find(0xF000));
        c.Remove(0, ulong.MaxValue);
        Assert.Equal(0, c.Count);
        // A mapping that ends at the top of the address space.
        c.Insert(new IotlbEntry(ulong.MaxValue - 0xFFF, 0x1000, 0x1000, RO));
        Assert.Equal(0, c.Find(ulong.MaxValue));
    }

    [Fact]
    public void Range_translation_joins_contiguous_mappings_and_tells_misses_from_denials()
    {
        var c = new IotlbCache();
        c.Insert(new IotlbEntry(0x1000, 0x1000, 0x81000, RW));
        c.Insert(new IotlbEntry(0x2000, 0x1000, 0x82000, RO));   // user addresses continue the first
        c.Insert(new IotlbEntry(0x3000, 0x1000, 0x99000, RW));   // they do not
        Assert.Equal(IotlbLookup.Hit, c.Translate(0x1800, 0x1000, RO, out ulong user, out _));
        Assert.Equal(0x81800UL, user);
        Assert.Equal(IotlbLookup.Denied, c.Translate(0x1800, 0x1000, RW, out _, out _));
        Assert.Equal(IotlbLookup.NotContiguous, c.Translate(0x2800, 0x1000, RO, out _, out _));
        Assert.Equal(IotlbLookup.Miss, c.Translate(0x3800, 0x1000, RO, out _, out ulong miss));
        Assert.Equal(0x4000UL, miss);
        Assert.Equal(IotlbLookup.Miss, c.Translate(0x0, 0x10, RO, out _, out miss));
        Assert.Equal(0x0UL, miss);
    }

    [Fact]
    public void A_flood_of_updates_and_splits_never_grows_the_cache_past_its_limit()
    {
        var c = new IotlbCache();
        for (ulong i = 0; i < 3 * IotlbCache.MaxEntries; i++)
        {
            c.Insert(new IotlbEntry(i * 0x2000, 0x2000, 0x100000 + i * 0x2000, RW));
            Assert.True(c.Count <= IotlbCache.MaxEntries);
        }
        Assert.Equal(IotlbCache.MaxEntries, c.Count);
        Assert.True(c.Evictions >= 2 * IotlbCache.MaxEntries);
        // Splitting every mapping in two would double it: still bounded.
        foreach (IotlbEntry e in c.Entries.ToArray()) c.Remove(e.Iova + 0x800, e.Iova + 0xFFF);
        Assert.True(c.Count <= IotlbCache.MaxEntries);
        for (int i = 1; i < c.Count; i++) Assert.True(c.Entries[i - 1].Last < c.Entries[i].Iova, "sorted and disjoint");
    }
}
