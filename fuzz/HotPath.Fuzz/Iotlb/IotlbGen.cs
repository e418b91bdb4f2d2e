using FsCheck;
using FsCheck.Fluent;
using static HotPath.Fuzz.Split.SplitShrink;
using M = HotPath.Fuzz.Iotlb.IotlbModel;

namespace HotPath.Fuzz.Iotlb;

/// <summary>
/// Generators and shrinking of IOTLB message sequences: updates and invalidations clustered in the model's two windows
/// (so they overlap, split and replace each other partly), floods of one-byte updates (past the cache's bound in the
/// cache property), and hostile messages: size 0, ranges that wrap (iova or user address), permissions other than
/// RO/WO/RW, user ranges outside the memory table or across a region's end, MISS/ACCESS_FAIL/unknown types, and
/// invalidations that wrap.
/// </summary>
public static class IotlbGen
{
    /// <summary>Bytes of each memory region the user addresses point into (the message property's rig has two).</summary>
    public const ulong RegionSize = 2 << 20;

    public static Arbitrary<IotlbCase> Cases(int maxFlood) => Arb.From(Case(maxFlood), Shrink);

    public static Gen<IotlbCase> Case(int maxFlood) =>
        from ops in Gen.Sized(n => Gen.Choose(1, Math.Clamp(n / 2, 1, 24))).SelectMany(k => Op(maxFlood).ArrayOf(k))
        from random in Gen.Choose(2, 8).SelectMany(k => Probe.ArrayOf(k))
        from inside in InsideUpdates(ops)
        select new IotlbCase(ops, random.Concat(inside).ToArray());

    /// <summary>Lookups inside ranges the case maps (random ones mostly miss): hits, and denials, splits, overwrites.</summary>
    private static Gen<IotlbProbe[]> InsideUpdates(IotlbOp[] ops)
    {
        IotlbOp[] updates = ops.Where(o => o.Type == IotlbOp.Update && o.Repeat == 1 && M.InWindow(o.Iova, o.Size)).ToArray();
        if (updates.Length == 0) return Gen.Constant(Array.Empty<IotlbProbe>());
        Gen<IotlbProbe> probe =
            from u in Gen.Elements(updates)
            from at in Gen.Choose(0, (int)u.Size - 1)
            from len in Gen.Frequency((3, Gen.Choose(1, 16)), (1, Gen.Choose(1, (int)u.Size)))
            from perm in GoodPerm
            select new IotlbProbe(u.Iova + (ulong)at, Math.Min((ulong)len, u.Size - (ulong)at), perm);
        return Gen.Choose(1, 6).SelectMany(k => probe.ArrayOf(k));
    }

    private static readonly Gen<ulong> Window = Gen.Elements(M.LowBase, M.TopBase);

    /// <summary>An offset into a window, mostly in its first quarter so ranges meet.</summary>
    private static readonly Gen<ulong> Offset =
        Gen.Frequency((3, Gen.Choose(0, 2047)), (1, Gen.Choose(0, (int)M.Window - 1))).Select(o => (ulong)o);

    private static Gen<ulong> SizeUpTo(ulong room) =>
        Gen.Frequency((4, Gen.Choose(1, 256)), (2, Gen.Choose(257, 2048)), (1, Gen.Choose(1, (int)room)))
            .Select(s => Math.Min((ulong)s, room));

    private static readonly Gen<byte> GoodPerm = Gen.Elements<byte>(1, 2, 3);

    /// <summary>An update the backend must take: inside a window, inside a region.</summary>
    private static readonly Gen<IotlbOp> Update =
        from w in Window
        from o in Offset
        from size in SizeUpTo(M.Window - o)
        from region in Gen.Choose(0, 1)
        from user in Gen.Frequency((3, Gen.Choose(0, 16383)), (1, Gen.Choose(0, (int)(RegionSize - size))))
        from perm in GoodPerm
        select new IotlbOp(IotlbOp.Update, w + o, size, region, Math.Min((ulong)user, RegionSize - size), perm);

    private static readonly Gen<IotlbOp> Invalidate =
        from w in Window
        from o in Offset
        from size in Gen.Frequency((3, SizeUpTo(M.Window)), (1, Gen.Constant(M.Window)))
        select new IotlbOp(IotlbOp.Invalidate, w + o, w == M.TopBase ? Math.Min(size, M.Window - o) : size, 0, 0, 0);

    private static Gen<IotlbOp> Flood(int maxFlood) =>
        from o in Gen.Choose(0, 64)
        from repeat in Gen.Choose(Math.Max(2, maxFlood / 2), maxFlood)
        from perm in GoodPerm
        select new IotlbOp(IotlbOp.Update, M.LowBase + (ulong)o, 1, 0, (ulong)o, perm, repeat);

    /// <summary>Messages the backend must refuse (and leave its IOTLB as it was, but for a wrapping invalidation).</summary>
    private static readonly Gen<IotlbOp> Hostile =
        from u in Update
        from kind in Gen.Choose(0, 8)
        from k in Gen.Choose(1, 4096)
        from badPerm in Gen.Elements<byte>(0, 4, 5, 7, 255)
        from type in Gen.Elements<byte>(IotlbOp.Miss, IotlbOp.AccessFail, 0, 5, 9, 255)
        select kind switch
        {
            0 => u with { Size = 0 },
            1 => u with { Iova = M.TopBase + (u.Iova & (M.Window - 1)), Size = M.Window - (u.Iova & (M.Window - 1)) + (ulong)k },
            2 => u with { Region = -1, User = 0UL - (ulong)k, Size = (ulong)k + 1 },
            3 => u with { Perm = badPerm },
            4 => u with { Region = -1, User = 0x1000 + (ulong)k },
            5 => u with { User = RegionSize - 1, Size = u.Size + 1 },   // over the region's end
            6 => new IotlbOp(IotlbOp.Invalidate, u.Iova, 0, 0, 0, 0),
            7 => new IotlbOp(IotlbOp.Invalidate, M.TopBase + (u.Iova & (M.Window - 1)), M.Window - (u.Iova & (M.Window - 1)) + (ulong)k, 0, 0, 0),
            _ => u with { Type = type },
        };

    public static Gen<IotlbOp> Op(int maxFlood) => Gen.Frequency(
        (8, Update), (4, Invalidate), (3, Hostile), (maxFlood > 0 ? 1 : 0, Flood(Math.Max(maxFlood, 2))));

    private static readonly Gen<IotlbProbe> Probe =
        from w in Window
        from o in Offset
        from len in Gen.Frequency((6, Gen.Choose(1, 64)), (3, Gen.Choose(65, 1024)), (1, Gen.Choose(1, (int)M.Window)))
        from perm in GoodPerm
        select new IotlbProbe(w + o, w == M.TopBase ? Math.Min((ulong)len, M.Window - o) : (ulong)len, perm);

    private static IEnumerable<IotlbCase> Shrink(IotlbCase c)
    {
        for (int i = c.Ops.Length - 1; i >= 0 && c.Ops.Length > 1; i--) yield return c with { Ops = Without(c.Ops, i) };
        for (int i = c.Probes.Length - 1; i >= 0 && c.Probes.Length > 1; i--) yield return c with { Probes = Without(c.Probes, i) };
        for (int i = 0; i < c.Ops.Length; i++)
            if (c.Ops[i].Repeat > 1) yield return c with { Ops = Replace(c.Ops, i, c.Ops[i] with { Repeat = c.Ops[i].Repeat / 2 }) };
    }
}
