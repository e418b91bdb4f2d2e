namespace HotPath.Fuzz.Split;

/// <summary>
/// Shrinking for split cases, most aggressive first: fewer steps, fewer chains, fewer packets, fewer descriptors,
/// lies removed, shorter buffers, simpler rings. FsCheck keeps the first candidate that still fails and shrinks again.
/// </summary>
internal static class SplitShrink
{
    public static IEnumerable<SplitCase> Shrink(SplitCase c)
    {
        foreach (Step[] half in Halves(c.Steps)) yield return c with { Steps = half };
        for (int i = c.Steps.Length - 1; i >= 0 && c.Steps.Length > 1; i--)
            yield return c with { Steps = Without(c.Steps, i) };
        for (int i = 0; i < c.Steps.Length; i++)
            foreach (Step s in ShrinkStep(c.Steps[i]))
                yield return c with { Steps = Replace(c.Steps, i, s) };
        if (c.Regions > 1) yield return c with { Regions = c.Regions - 1 };
        if (!c.Contiguous) yield return c with { Contiguous = true };
        if (c.Features != SplitFeatures.None)
            foreach (SplitFeatures f in Enum.GetValues<SplitFeatures>())
                if (f != SplitFeatures.None && (c.Features & f) != 0) yield return c with { Features = c.Features & ~f };
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
