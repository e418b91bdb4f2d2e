using HotPath.Engine.Iommu;
using HotPath.Fuzz.Core;

namespace HotPath.Fuzz.Iotlb;

/// <summary>
/// IOTLB message sequences applied to an <see cref="IotlbCache"/> as the control plane applies them (what the door
/// refuses never reaches the cache; a wrapping invalidation clears to the end), checked against
/// <see cref="IotlbModel"/> after every message (<see cref="IotlbCheck.State"/>). Floods go past the cache's bound.
/// User addresses point into two made-up regions of 2 MiB: the cache never looks at them.
/// </summary>
public sealed class IotlbCacheProperty : FuzzProperty<IotlbCase>
{
    private const ulong RegionBase = 0x7f00_0000_0000, RegionStride = 0x1000_0000;

    public override string Name => "iotlb-cache";

    public override FsCheck.Arbitrary<IotlbCase> Cases => IotlbGen.Cases(maxFlood: IotlbCache.MaxEntries + 600);

    private static ulong Resolve(IotlbOp op) => op.Region < 0 ? op.User : RegionBase + (ulong)op.Region * RegionStride + op.User;

    private static bool InRegion(ulong user, ulong size) =>
        Enumerable.Range(0, 2).Any(r =>
        {
            ulong b = RegionBase + (ulong)r * RegionStride;
            return user >= b && user - b < IotlbGen.RegionSize && size <= IotlbGen.RegionSize - (user - b);
        });

    protected override Verdict Run(IotlbCase c)
    {
        var cache = new IotlbCache();
        var model = new IotlbModel();
        for (int i = 0; i < c.Ops.Length; i++)
        {
            IotlbOp op = c.Ops[i];
            for (int k = 0; k < op.Repeat; k++)
            {
                IotlbOp m = op.At(k);
                ulong user = Resolve(m);
                string? refusal = IotlbModel.Refusal(m, user, InRegion);
                if (IotlbModel.InvalidatesToTheEnd(m)) cache.Remove(m.Iova, ulong.MaxValue);
                else if (refusal == null && m.Type == IotlbOp.Update) cache.Insert(new IotlbEntry(m.Iova, m.Size, user, m.Perm));
                else if (refusal == null) cache.Remove(m.Iova, m.Iova + (m.Size - 1));
                model.Apply(m, user, refusal);
            }
            string? first = IotlbModel.Refusal(op, Resolve(op), InRegion);
            Coverage.Hit(first == null ? $"{Name}.{(op.Type == IotlbOp.Update ? "update" : "invalidate")}" : $"{Name}.refused", op.Repeat);
            if (cache.Evictions != 0) Coverage.Hit($"{Name}.evicting");
            IotlbCheck.State(Name, cache, model, c.Probes, exact: cache.Evictions == 0, $"after op {i} {op.ToCode()}");
        }
        Coverage.Hit($"{Name}.entries", cache.Count);
        return Verdict.Ok;
    }
}
