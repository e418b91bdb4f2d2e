using FsCheck;
using FsCheck.Fluent;
using HotPath.Engine.Virtio;
using static HotPath.Fuzz.Split.SplitShrink;

namespace HotPath.Fuzz.Control;

/// <summary>Generators and shrinking of message sequences.</summary>
public static class ControlGen
{
    public static Arbitrary<ControlCase> Cases => Arb.From(Case, Shrink);

    public static Gen<ControlCase> Case =>
        from start in Gen.Frequency((3, Gen.Constant(true)), (1, Gen.Constant(false)))
        from ops in Gen.Sized(n => Gen.Choose(1, Math.Clamp(n / 4, 1, 16))).SelectMany(k => Op.ArrayOf(k))
        select new ControlCase(start, ops);

    private static readonly Gen<ulong> FeatureValue = Gen.Frequency(
        // The bits of a typical negotiation, with one flipped: accepted before the device runs, refused after.
        (4, Gen.Choose(0, 40).Select(bit => NetFeatures ^ (1UL << bit))),
        (2, Gen.Constant(NetFeatures)),
        (1, Gen.Choose(41, 63).Select(bit => NetFeatures | (1UL << bit))));

    private const ulong NetFeatures = (1UL << VirtioFeatures.Version1) | (1UL << VirtioFeatures.NetMrgRxbuf) |
                                      (1UL << VirtioFeatures.ProtocolFeatures);

    private static readonly Gen<uint> VringIndex = Gen.Frequency(
        (6, Gen.Choose(0, 1).Select(i => (uint)i)), (1, Gen.Choose(2, 7).Select(i => (uint)i)),
        (1, Gen.Elements(0x100u, 0x8000u, 0x10000u, 0xFFFF_FFFFu)));

    public static readonly Gen<ControlOp> Op =
        from kind in Gen.Frequency(
            (3, Gen.Constant(ControlOpKind.SetFeatures)), (4, Gen.Constant(ControlOpKind.SetVringNum)),
            (4, Gen.Constant(ControlOpKind.SetVringEnable)), (1, Gen.Constant(ControlOpKind.Framing)),
            (4, Gen.Constant(ControlOpKind.Random)), (1, Gen.Constant(ControlOpKind.HalfThenClose)))
        from index in kind switch
        {
            ControlOpKind.Framing => Gen.Choose(0, 5).Select(i => (uint)i),
            ControlOpKind.Random => Gen.Choose(1, 43).Select(i => (uint)i),
            _ => VringIndex,
        }
        from value in kind switch
        {
            ControlOpKind.SetFeatures => FeatureValue,
            ControlOpKind.SetVringNum => Gen.Frequency((4, Gen.Elements(1UL, 64UL, 256UL, 1024UL, 32768UL)),
                (1, Gen.Elements(0UL, 3UL, 1000UL, 65536UL, 0xFFFF_FFFFUL))),
            ControlOpKind.SetVringEnable => Gen.Frequency((6, Gen.Elements(0UL, 1UL)), (1, Gen.Elements(2UL, 0xFFFF_FFFFUL))),
            ControlOpKind.Random => Gen.Frequency((4, Gen.Choose(0, 64)), (1, Gen.Choose(65, 300))).Select(v => (ulong)v),
            _ => Gen.Choose(0, 255).Select(v => (ulong)v),
        }
        from needReply in Gen.Elements(true, false)
        from fds in kind == ControlOpKind.Random ? Gen.Frequency((4, Gen.Constant(0)), (1, Gen.Choose(1, 3))) : Gen.Constant(0)
        from burst in Gen.Frequency((2, Gen.Constant(0)), (1, Gen.Choose(1, 8)))
        from seed in Gen.Choose(0, 1 << 20)
        select new ControlOp(kind, index, value, needReply, fds, burst, seed);

    private static IEnumerable<ControlCase> Shrink(ControlCase c)
    {
        for (int i = c.Ops.Length - 1; i >= 0 && c.Ops.Length > 1; i--) yield return c with { Ops = Without(c.Ops, i) };
        for (int i = 0; i < c.Ops.Length; i++)
        {
            ControlOp o = c.Ops[i];
            if (o.Burst != 0) yield return c with { Ops = Replace(c.Ops, i, o with { Burst = 0 }) };
            if (o.Fds != 0) yield return c with { Ops = Replace(c.Ops, i, o with { Fds = 0 }) };
            if (o.NeedReply) yield return c with { Ops = Replace(c.Ops, i, o with { NeedReply = false }) };
            if (o.Kind == ControlOpKind.Random && o.Value > 0) yield return c with { Ops = Replace(c.Ops, i, o with { Value = o.Value / 2 }) };
        }
        if (c.Start) yield return c with { Start = false };
    }
}
