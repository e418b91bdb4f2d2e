using FsCheck;
using FsCheck.Fluent;

namespace HotPath.Fuzz.Split;

/// <summary>
/// Generators of split-ring cases. Most chains are valid (so packets flow and the model's bytes are checked); the rest
/// carry one of the lies SECURITY.md lists (loops, next out of range, nested or oversized indirect tables, indirect
/// with NEXT, wrong direction, buffers outside memory or crossing regions, avail index jumps). Start indexes sit near
/// 65535 most of the time, so the 16-bit counters wrap inside the case.
/// </summary>
public static class SplitGen
{
    public static Arbitrary<SplitCase> Cases => Arb.From(Case, SplitShrink.Shrink);

    public static Gen<SplitCase> Case =>
        from size in Gen.Frequency((2, Gen.Elements(1u, 2u, 4u)), (6, Gen.Elements(8u, 16u, 32u)), (2, Gen.Elements(64u, 128u, 256u)))
        from start in Gen.Frequency((4, Gen.Choose(65536 - 400, 65535)), (1, Gen.Choose(0, 65535)), (1, Gen.Constant(0)))
        from features in Gen.Choose(0, 15)
        from regions in Gen.Frequency((2, Gen.Constant(1)), (3, Gen.Constant(2)), (3, Gen.Constant(3)))
        from contiguous in Gen.Frequency((3, Gen.Constant(true)), (1, Gen.Constant(false)))
        from steps in Gen.Sized(n => Gen.Choose(1, Math.Clamp(n / 3, 1, 24))).SelectMany(k => Step(size).ArrayOf(k))
        select new SplitCase(size, (ushort)start, (SplitFeatures)features, regions, contiguous, steps);

    public static Gen<Step> Step(uint size) =>
        from tx in Gen.Elements(true, false)
        from chains in Gen.Choose(0, (int)Math.Min(size, 8)).SelectMany(k => Chain(size, tx).ArrayOf(k))
        from burst in Gen.Frequency((4, Gen.Choose(1, 32)), (1, Gen.Choose(33, 64)))
        from packets in Gen.Choose(0, 8).SelectMany(k => Packet.ArrayOf(k))
        from extra in AvailExtra(size)
        select new Step(tx, chains, tx ? burst : 0, tx ? Array.Empty<PacketSpec>() : packets, extra);

    private static Gen<ushort> AvailExtra(uint size) => Gen.Frequency(
        (40, Gen.Constant(0)),
        (3, Gen.Choose(1, 3)),
        (1, Gen.Choose((int)size + 1, 65535))).Select(x => (ushort)x);

    public static Gen<ChainSpec> Chain(uint size, bool tx) =>
        from form in Gen.Frequency((8, Gen.Constant(ChainForm.Direct)), (2, Gen.Constant(ChainForm.Indirect)),
            (1, Gen.Constant(ChainForm.IndirectCrossing)))
        from count in Gen.Frequency((10, Gen.Choose(1, 4)), (2, Gen.Choose(5, 20)), (1, Gen.Choose(1, (int)size + 2)))
        from descs in Desc(tx).ArrayOf(count)
        from fault in Gen.Frequency((30, Gen.Constant(ChainFault.None)),
            (1, Gen.Elements(Enum.GetValues<ChainFault>())))
        from header in tx ? Header : Gen.Constant(HeaderSpec.Plain)
        from headWritable in Gen.Frequency((5, Gen.Constant(false)), (1, Gen.Constant(true)))
        select new ChainSpec(descs, form, fault, header, headWritable);

    private static Gen<DescSpec> Desc(bool tx) => DescOf<DescFault, DescSpec>(tx, faultOdds: 60, (buf, fault) => new DescSpec(buf, fault));

    /// <summary>
    /// One descriptor of a split or packed chain: a buffer (mostly in the data area, some crossing regions, a few
    /// outside memory; sometimes misaligned) and, one time in <paramref name="faultOdds"/> + 1, a lie of the ring
    /// type's own (<typeparamref name="TFault"/>, whose value 0 is None).
    /// </summary>
    internal static Gen<TDesc> DescOf<TFault, TDesc>(bool tx, int faultOdds, Func<BufSpec, TFault, TDesc> make) where TFault : struct, Enum =>
        from kind in Gen.Frequency((40, Gen.Constant(BufKind.Data)), (6, Gen.Constant(BufKind.Crossing)),
            (1, Gen.Elements(BufKind.PastEnd, BufKind.Gap, BufKind.Below, BufKind.WrapAround, BufKind.Null)))
        from len in tx ? TxLen : RxLen
        from misalign in Gen.Frequency((6, Gen.Constant(0)), (1, Gen.Choose(1, 63)))
        from fault in Gen.Frequency((faultOdds, Gen.Constant(default(TFault))), (1, Gen.Elements(Enum.GetValues<TFault>())))
        select make(new BufSpec(kind, (uint)len, (byte)misalign), fault);

    internal static readonly Gen<int> TxLen = Gen.Frequency(
        (2, Gen.Constant(0)), (6, Gen.Choose(1, 16)), (12, Gen.Choose(17, 1600)), (4, Gen.Choose(1601, 16384)),
        (2, Gen.Choose(16385, 65536)), (1, Gen.Choose(200_000, 300_000)));

    internal static readonly Gen<int> RxLen = Gen.Frequency(
        (1, Gen.Constant(0)), (2, Gen.Choose(1, 16)), (3, Gen.Choose(17, 1600)), (6, Gen.Constant(2048)),
        (1, Gen.Choose(2049, 65536)));

    internal static readonly Gen<HeaderSpec> Header = Gen.Frequency(
        (12, Gen.Constant(HeaderSpec.Plain)),
        (2, from start in Gen.Choose(0, 1600) from off in Gen.Elements(6, 8, 16, 0, 1500, 65000)
            select new HeaderSpec(1, 0, 0, (ushort)start, (ushort)off)),
        (2, from type in Gen.Elements(1, 3, 4, 5, 0x81, 2, 0x7F) from gso in Gen.Frequency((1, Gen.Constant(0)), (3, Gen.Choose(1, 9000)))
            from csum in Gen.Elements(true, false)
            select new HeaderSpec((byte)(csum ? 1 : 0), (byte)type, (ushort)gso, 34, 16)),
        (1, Gen.Choose(2, 255).Select(f => new HeaderSpec((byte)f))));

    internal static readonly Gen<PacketSpec> Packet =
        from len in Gen.Frequency((1, Gen.Constant(0)), (4, Gen.Choose(1, 128)), (6, Gen.Choose(129, 1514)),
            (2, Gen.Choose(1515, 9000)), (1, Gen.Choose(9001, 65535)))
        from seg in Gen.Frequency((6, Gen.Constant(2048)), (1, Gen.Elements(1, 7, 60, 100, 1000)))
        select new PacketSpec((uint)len, (ushort)seg);
}
