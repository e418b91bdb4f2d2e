using HotPath.Fuzz.Core;

namespace HotPath.Fuzz.Iotlb;

/// <summary>
/// One IOTLB_MSG as a frontend sends it (struct vhost_iotlb_msg), honest or hostile: <see cref="Type"/> 2 UPDATE,
/// 3 INVALIDATE, or a type the backend must refuse (1 MISS, 4 ACCESS_FAIL, anything else). The user address is
/// <see cref="User"/> bytes into memory region <see cref="Region"/> of the rig, or, with Region -1, <see cref="User"/>
/// itself (an address outside the memory table, or one whose range wraps). <see cref="Repeat"/> &gt; 1 sends a flood:
/// the same update <see cref="Repeat"/> times, each one <see cref="Size"/> + 1 bytes further on.
/// </summary>
public readonly record struct IotlbOp(byte Type, ulong Iova, ulong Size, int Region, ulong User, byte Perm, int Repeat = 1)
{
    public const byte Miss = 1, Update = 2, Invalidate = 3, AccessFail = 4;

    /// <summary>The <paramref name="k"/>-th message of a flood (the op itself when k = 0).</summary>
    public IotlbOp At(int k) => this with { Iova = Iova + (ulong)k * (Size + 1), Repeat = 1 };

    public string ToCode() =>
        $"new IotlbOp({Type}, 0x{Iova:x}UL, 0x{Size:x}UL, {Region}, 0x{User:x}UL, {Perm}{(Repeat != 1 ? $", {Repeat}" : "")})";
}

/// <summary>A range lookup checked after every message: [Iova, Iova + Len) with access <see cref="Perm"/> (1..3).</summary>
public readonly record struct IotlbProbe(ulong Iova, ulong Len, byte Perm)
{
    public string ToCode() => $"new IotlbProbe(0x{Iova:x}UL, 0x{Len:x}UL, {Perm})";
}

/// <summary>A sequence of IOTLB messages and the lookups checked after each.</summary>
public sealed record IotlbCase(IotlbOp[] Ops, IotlbProbe[] Probes) : IFuzzCase
{
    public string ToCode() =>
        $"new IotlbCase(new IotlbOp[]\n            {{\n                {string.Join(",\n                ", Ops.Select(o => o.ToCode()))},\n            }},\n" +
        $"            new IotlbProbe[] {{ {string.Join(", ", Probes.Select(p => p.ToCode()))} }})";

    public override string ToString() => ToCode();

    public bool Equals(IotlbCase? other) => other is not null && Ops.SequenceEqual(other.Ops) && Probes.SequenceEqual(other.Probes);

    public override int GetHashCode() => HashCode.Combine(Ops.Length, Probes.Length);
}
