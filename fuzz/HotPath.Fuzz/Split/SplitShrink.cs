namespace HotPath.Fuzz.Split;

/// <summary>
/// Shrinking for split cases, most aggressive first: fewer steps, fewer chains, fewer packets, fewer descriptors,
/// lies removed, shorter buffers, simpler rings. FsCheck keeps the first candidate that still fails and shrinks again.
/// </summary>
internal static class SplitShrink
{
    public static IEnumerable<SplitCase> Shrink(SplitCase c)
    {
        foreach (Step[] steps in Elements(c.Steps, ShrinkStep, keep: 1)) yield return c with { Steps = steps };
        foreach ((int regions, bool contiguous) in SimplerMemory(c.Regions, c.Contiguous))
            yield return c with { Regions = regions, Contiguous = contiguous };
        foreach (SplitFeatures f in FewerFeatures(c.Features)) yield return c with { Features = f };
        if (c.StartIndex != 0) yield return c with { StartIndex = 0 };
        if (c.RingSize > 1 && c.Steps.All(s => s.Chains.All(ch => ch.Descs.Length <= c.RingSize / 2)))
            yield return c with { RingSize = c.RingSize / 2 };
    }

    private static IEnumerable<Step> ShrinkStep(Step s)
    {
        foreach (ChainSpec[] half in Halves(s.Chains)) yield return s with { Chains = half };
        for (int i = s.Chains.Length - 1; i >= 0; i--) yield return s with { Chains = Without(s.Chains, i) };
        for (int i = s.Packets.Length - 1; i >= 0; i--) yield return s with { Packets = Without(s.Packets, i) };
        if (s.AvailExtra != 0) yield return s with { AvailExtra = 0 };
        if (s.Tx && s.Burst > 1) yield return s with { Burst = Math.Max(1, s.Burst / 2) };
        for (int i = 0; i < s.Chains.Length; i++)
            foreach (ChainSpec c in ShrinkChain(s.Chains[i]))
                yield return s with { Chains = Replace(s.Chains, i, c) };
        for (int i = 0; i < s.Packets.Length; i++)
            foreach (PacketSpec p in ShrinkPacket(s.Packets[i])) yield return s with { Packets = Replace(s.Packets, i, p) };
    }

    private static IEnumerable<ChainSpec> ShrinkChain(ChainSpec c)
    {
        foreach (DescSpec[] half in Halves(c.Descs)) yield return c with { Descs = half };
        for (int i = c.Descs.Length - 1; i >= 0 && c.Descs.Length > 1; i--) yield return c with { Descs = Without(c.Descs, i) };
        if (c.Fault != ChainFault.None) yield return c with { Fault = ChainFault.None };
        if (c.Form != ChainForm.Direct) yield return c with { Form = ChainForm.Direct };
        if (c.Header != HeaderSpec.Plain) yield return c with { Header = HeaderSpec.Plain };
        if (c.IndirectHeadWritable) yield return c with { IndirectHeadWritable = false };
        for (int i = 0; i < c.Descs.Length; i++)
        {
            DescSpec d = c.Descs[i];
            if (d.Fault != DescFault.None) yield return c with { Descs = Replace(c.Descs, i, d with { Fault = DescFault.None }) };
            foreach (BufSpec b in ShrinkBuf(d.Buf)) yield return c with { Descs = Replace(c.Descs, i, d with { Buf = b }) };
        }
    }

    /// <summary>
    /// Shorter arrays first (each half, then each element left out while more than <paramref name="keep"/> remain),
    /// then each element shrunk in place.
    /// </summary>
    internal static IEnumerable<T[]> Elements<T>(T[] a, Func<T, IEnumerable<T>> shrinkOne, int keep)
    {
        foreach (T[] half in Halves(a)) yield return half;
        for (int i = a.Length - 1; i >= 0 && a.Length > keep; i--) yield return Without(a, i);
        for (int i = 0; i < a.Length; i++)
            foreach (T v in shrinkOne(a[i])) yield return Replace(a, i, v);
    }

    /// <summary>Simpler guest memory: one region fewer, then the regions back to back.</summary>
    internal static IEnumerable<(int Regions, bool Contiguous)> SimplerMemory(int regions, bool contiguous)
    {
        if (regions > 1) yield return (regions - 1, contiguous);
        if (!contiguous) yield return (regions, true);
    }

    /// <summary>The features with one negotiated bit fewer, each bit in turn.</summary>
    internal static IEnumerable<SplitFeatures> FewerFeatures(SplitFeatures features)
    {
        foreach (SplitFeatures f in Enum.GetValues<SplitFeatures>())
            if (f != SplitFeatures.None && (features & f) != 0) yield return features & ~f;
    }

    /// <summary>Simpler versions of a buffer: in the data area, aligned, half as long.</summary>
    internal static IEnumerable<BufSpec> ShrinkBuf(BufSpec b)
    {
        if (b.Kind != BufKind.Data) yield return b with { Kind = BufKind.Data };
        if (b.Misalign != 0) yield return b with { Misalign = 0 };
        if (b.Len > 1) yield return b with { Len = b.Len / 2 };
    }

    /// <summary>Simpler versions of a packet: half as long, one segment.</summary>
    internal static IEnumerable<PacketSpec> ShrinkPacket(PacketSpec p)
    {
        if (p.Len > 1) yield return p with { Len = p.Len / 2 };
        if (p.SegmentData != 2048) yield return p with { SegmentData = 2048 };
    }

    /// <summary>The first and the second half of a longer array (big cuts first: shrinking a long case one element at a time is slow).</summary>
    internal static IEnumerable<T[]> Halves<T>(T[] a)
    {
        if (a.Length <= 3) yield break;
        yield return a[..(a.Length / 2)];
        yield return a[(a.Length / 2)..];
    }

    internal static T[] Without<T>(T[] a, int i) => a.Take(i).Concat(a.Skip(i + 1)).ToArray();

    internal static T[] Replace<T>(T[] a, int i, T v)
    {
        var b = (T[])a.Clone();
        b[i] = v;
        return b;
    }
}
