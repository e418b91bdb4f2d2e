using HotPath.Engine.Iommu;
using HotPath.Fuzz.Core;

namespace HotPath.Fuzz.Iotlb;

/// <summary>What every IOTLB property checks of a cache against the model after each message.</summary>
internal static class IotlbCheck
{
    /// <summary>
    /// The cache stays within its bound, its entries are sorted, non-empty and never overlap, every byte they map is
    /// mapped the same way in the model, and every lookup answers what the model says. <paramref name="exact"/>: no
    /// mapping was evicted yet, so the cache holds exactly the model's bytes; after an eviction (a flood past the
    /// bound) it may have forgotten some, never invented or changed one, so a lookup may miss where the model hits
    /// but otherwise answers the same.
    /// </summary>
    public static void State(string property, IotlbCache cache, IotlbModel model, IotlbProbe[] probes, bool exact, string where)
    {
        IReadOnlyList<IotlbEntry> entries = cache.Entries;
        Expect.True(cache.Count <= IotlbCache.MaxEntries, $"{where}: {cache.Count} entries, more than {IotlbCache.MaxEntries}");
        ulong bytes = 0;
        for (int i = 0; i < entries.Count; i++)
        {
            IotlbEntry e = entries[i];
            Expect.True(e.Size != 0 && e.Iova <= e.Last, $"{where}: entry {i} {Describe(e)} is empty or wraps");
            if (i > 0) Expect.True(entries[i - 1].Last < e.Iova, $"{where}: entries {Describe(entries[i - 1])} and {Describe(e)} overlap or are out of order");
            for (ulong k = 0; ; k++)
            {
                ulong b = e.Iova + k;
                Expect.True(model.Perm(b) == e.Perm && model.User(b) == e.UserAddr + k,
                    $"{where}: entry {Describe(e)} maps 0x{b:x}, the model says perm {model.Perm(b)}" +
                    (model.Perm(b) != 0 ? $" user 0x{model.User(b):x}" : ""));
                if (b == e.Last) break;
            }
            bytes += e.Size;
            Find(cache, model, e.Iova, where);
            Find(cache, model, e.Last, where);
            if (e.Iova != 0) Find(cache, model, e.Iova - 1, where);
            if (e.Last != ulong.MaxValue) Find(cache, model, e.Last + 1, where);
        }
        if (exact) Expect.Equal(model.MappedBytes, bytes, $"{where}: bytes mapped (no eviction yet)");
        foreach (IotlbProbe p in probes)
        {
            Find(cache, model, p.Iova, where);
            IotlbLookup want = model.Translate(p.Iova, p.Len, p.Perm, out ulong wantUser, out ulong wantMiss);
            IotlbLookup got = cache.Translate(p.Iova, p.Len, p.Perm, out ulong gotUser, out ulong gotMiss);
            Coverage.Hit($"{property}.lookup-{want}");
            if (!exact && got == IotlbLookup.Miss) continue;
            string what = $"{where}: lookup of {p.ToCode()}";
            Expect.Equal(want, got, what);
            if (want == IotlbLookup.Hit) Expect.Equal(wantUser, gotUser, $"{what}: user address");
            if (want == IotlbLookup.Miss) Expect.Equal(wantMiss, gotMiss, $"{what}: first byte missing");
        }
    }

    /// <summary>Find answers the mapping of <paramref name="iova"/> the model has, or -1 when it has none.</summary>
    private static void Find(IotlbCache cache, IotlbModel model, ulong iova, string where)
    {
        int i = cache.Find(iova);
        if (i < 0)
        {
            Expect.True(model.Perm(iova) == 0 || cache.Evictions != 0, $"{where}: Find(0x{iova:x}) found nothing, the model maps it");
            return;
        }
        IotlbEntry e = cache.Entries[i];
        Expect.True(e.Iova <= iova && iova <= e.Last, $"{where}: Find(0x{iova:x}) answered {Describe(e)}, which does not hold it");
    }

    public static string Describe(IotlbEntry e) => $"[0x{e.Iova:x}, 0x{e.Last:x}] -> 0x{e.UserAddr:x} {IotlbPerm.Describe(e.Perm)}";
}
