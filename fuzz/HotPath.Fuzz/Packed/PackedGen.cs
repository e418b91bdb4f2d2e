using FsCheck;
using FsCheck.Fluent;
using HotPath.Fuzz.Split;
using static HotPath.Fuzz.Split.SplitShrink;

namespace HotPath.Fuzz.Packed;

/// <summary>
/// Generators of packed-ring cases. Ring sizes are small most of the time (any size is legal on a packed ring, and
/// small ones wrap every few steps, so wrap counters flip many times per case); the cursors start anywhere with either
/// wrap counter. Most chains are valid; the rest carry one lie: wrong direction, INDIRECT with NEXT or nested, a
/// dangling NEXT into the next chain or into a descriptor not yet available, wrong AVAIL/USED bits for the lap, a
/// reused buffer id, bad indirect tables, buffers outside memory or crossing regions. One step in four is a run of
/// single-descriptor chains with exactly one bad entry, aimed at the batch-of-4 path.
/// </summary>
public static class PackedGen
{
    public static Arbitrary<PackedCase> Cases => Arb.From(Case, PackedShrink.Shrink);

    public static Gen<PackedCase> Case =>
        from size in Gen.Frequency((3, Gen.Elements(1u, 2u, 3u, 4u, 5u)), (5, Gen.Elements(6u, 7u, 8u, 12u, 16u, 32u)),
            (2, Gen.Elements(64u, 100u, 128u, 256u, 512u)))
        from start in Gen.Choose(0, (int)size - 1)
        from wrap in Gen.Elements(true, false)
        from features in Gen.Choose(0, 15)
        from regions in Gen.Frequency((2, Gen.Constant(1)), (3, Gen.Constant(2)), (3, Gen.Constant(3)))
        from contiguous in Gen.Frequency((3, Gen.Constant(true)), (1, Gen.Constant(false)))
        from steps in Gen.Sized(n => Gen.Choose(1, Math.Clamp(n / 2, 1, 40))).SelectMany(k => Step(size).ArrayOf(k))
        select new PackedCase(size, (ushort)start, wrap, (SplitFeatures)features, regions, contiguous, steps);

    public static Gen<PackedStep> Step(uint size) =>
        from tx in Gen.Elements(true, false)
        from chains in Gen.Frequency(
            (3, Gen.Choose(0, (int)Math.Min(size, 8)).SelectMany(k => Chain(size, tx).ArrayOf(k))),
            (1, BatchWithOneBad(tx)))
        from burst in Gen.Frequency((4, Gen.Choose(1, 32)), (1, Gen.Choose(33, 64)))
        from packets in Gen.Choose(0, 12).SelectMany(k => Packet.ArrayOf(k))
        select new PackedStep(tx, chains, tx ? burst : 0, tx ? Array.Empty<PacketSpec>() : packets);

    /// <summary>4 to 8 single-descriptor chains of one mbuf's size, one of them bad.</summary>
    private static Gen<PackedChainSpec[]> BatchWithOneBad(bool tx) =>
        from k in Gen.Choose(4, 8)
        from lens in Gen.Choose(64, 1500).ArrayOf(k)
        from bad in Gen.Choose(0, k - 1)
        from how in Gen.Choose(0, 5)
        select lens.Select((len, i) => i != bad
            ? new PackedChainSpec(new[] { new PackedDescSpec(new BufSpec(BufKind.Data, (uint)len)) })
            : how switch
            {
                0 => new PackedChainSpec(new[] { new PackedDescSpec(new BufSpec(BufKind.Data, (uint)len), PackedDescFault.WrongDirection) }),
                1 => new PackedChainSpec(new[] { new PackedDescSpec(new BufSpec(BufKind.Data, (uint)len), PackedDescFault.WrongWrap) }),
                2 => new PackedChainSpec(new[] { new PackedDescSpec(new BufSpec(BufKind.PastEnd, (uint)len)) }),
                3 => new PackedChainSpec(new[] { new PackedDescSpec(new BufSpec(BufKind.Data, 4)) }),   // shorter than a header
                4 => new PackedChainSpec(new[] { new PackedDescSpec(new BufSpec(BufKind.Crossing, (uint)len)) }),
                _ => new PackedChainSpec(new[] { new PackedDescSpec(new BufSpec(BufKind.Data, (uint)len), PackedDescFault.DanglingNext) }),
            }).ToArray();

    public static Gen<PackedChainSpec> Chain(uint size, bool tx) =>
        from form in Gen.Frequency((8, Gen.Constant(ChainForm.Direct)), (2, Gen.Constant(ChainForm.Indirect)),
            (1, Gen.Constant(ChainForm.IndirectCrossing)))
        from count in Gen.Frequency((12, Gen.Choose(1, 3)), (2, Gen.Choose(4, 12)), (1, Gen.Choose(1, (int)size)))
        from descs in Desc(tx).ArrayOf(count)
        from fault in Gen.Frequency((30, Gen.Constant(PackedChainFault.None)), (1, Gen.Elements(Enum.GetValues<PackedChainFault>())))
        from header in tx ? Header : Gen.Constant(HeaderSpec.Plain)
        select new PackedChainSpec(descs, form, fault, header);

    private static Gen<PackedDescSpec> Desc(bool tx) =>
        SplitGen.DescOf<PackedDescFault, PackedDescSpec>(tx, faultOdds: 50, (buf, fault) => new PackedDescSpec(buf, fault));

    // TX headers and packets as in the split cases.
    private static Gen<HeaderSpec> Header => SplitGen.Header;
    private static Gen<PacketSpec> Packet => SplitGen.Packet;
}

/// <summary>Shrinking for packed cases: fewer steps, chains, packets and descriptors; lies removed; simpler rings.</summary>
internal static class PackedShrink
{
    public static IEnumerable<PackedCase> Shrink(PackedCase c)
    {
        foreach (PackedStep[] steps in Elements(c.Steps, ShrinkStep, keep: 1)) yield return c with { Steps = steps };
        foreach ((int regions, bool contiguous, SplitFeatures f) in SimplerSetup(c.Regions, c.Contiguous, c.Features))
            yield return c with { Regions = regions, Contiguous = contiguous, Features = f };
        if (c.StartIndex != 0) yield return c with { StartIndex = 0 };
        if (!c.StartWrap) yield return c with { StartWrap = true };
    }

    private static IEnumerable<PackedStep> ShrinkStep(PackedStep s)
    {
        foreach ((PackedChainSpec[] chains, PacketSpec[] packets) in StepContents(s.Chains, s.Packets, ShrinkChain))
            yield return s with { Chains = chains, Packets = packets };
        if (s.Tx && s.Burst > 1) yield return s with { Burst = Math.Max(1, s.Burst / 2) };
    }

    private static IEnumerable<PackedChainSpec> ShrinkChain(PackedChainSpec c)
    {
        foreach (PackedDescSpec[] descs in Elements(c.Descs, ShrinkDesc, keep: 1)) yield return c with { Descs = descs };
        if (c.Fault != PackedChainFault.None) yield return c with { Fault = PackedChainFault.None };
        if (c.Form != ChainForm.Direct) yield return c with { Form = ChainForm.Direct };
        if (c.Header != HeaderSpec.Plain) yield return c with { Header = HeaderSpec.Plain };
    }

    private static IEnumerable<PackedDescSpec> ShrinkDesc(PackedDescSpec d) =>
        SimplerDesc<PackedDescSpec>(d.Buf, d.Fault != PackedDescFault.None ? d with { Fault = PackedDescFault.None } : null, b => d with { Buf = b });
}
