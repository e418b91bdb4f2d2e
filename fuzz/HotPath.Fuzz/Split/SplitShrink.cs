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
        foreach ((int regions, bool contiguous, SplitFeatures f) in SimplerSetup(c.Regions, c.Contiguous, c.Features))
            yield return c with { Regions = regions, Contiguous = contiguous, Features = f };
        if (c.StartIndex != 0) yield return c with { StartIndex = 0 };
        if (c.RingSize > 1 && c.Steps.All(s => s.Chains.All(ch => ch.Descs.Length <= c.RingSize / 2)))
            yield return c with { RingSize = c.RingSize / 2 };
    }

    private static IEnumerable<Step> ShrinkStep(Step s)
    {
        foreach ((ChainSpec[] chains, PacketSpec[] packets) in StepContents(s.Chains, s.Packets, ShrinkChain))
            yield return s with { Chains = chains, Packets = packets };
        if (s.AvailExtra != 0) yield return s with { AvailExtra = 0 };
        if (s.Tx && s.Burst > 1) yield return s with { Burst = Math.Max(1, s.Burst / 2) };
    }

    private static IEnumerable<ChainSpec> ShrinkChain(ChainSpec c)
    {
        foreach (DescSpec[] descs in Elements(c.Descs, ShrinkDesc, keep: 1)) yield return c with { Descs = descs };
        if (c.Fault != ChainFault.None) yield return c with { Fault = ChainFault.None };
        if (c.Form != ChainForm.Direct) yield return c with { Form = ChainForm.Direct };
        if (c.Header != HeaderSpec.Plain) yield return c with { Header = HeaderSpec.Plain };
        if (c.IndirectHeadWritable) yield return c with { IndirectHeadWritable = false };
    }

    private static IEnumerable<DescSpec> ShrinkDesc(DescSpec d) =>
        SimplerDesc<DescSpec>(d.Buf, d.Fault != DescFault.None ? d with { Fault = DescFault.None } : null, b => d with { Buf = b });

    /// <summary>
    /// A step's chains and packets made simpler, one change at a time: fewer chains, fewer packets, then each chain
    /// (<paramref name="shrinkChain"/>) and each packet simpler.
    /// </summary>
    internal static IEnumerable<(TChain[] Chains, PacketSpec[] Packets)> StepContents<TChain>(TChain[] chains, PacketSpec[] packets,
        Func<TChain, IEnumerable<TChain>> shrinkChain)
    {
        foreach (TChain[] half in Halves(chains)) yield return (half, packets);
        for (int i = chains.Length - 1; i >= 0; i--) yield return (Without(chains, i), packets);
        for (int i = packets.Length - 1; i >= 0; i--) yield return (chains, Without(packets, i));
        for (int i = 0; i < chains.Length; i++)
            foreach (TChain c in shrinkChain(chains[i])) yield return (Replace(chains, i, c), packets);
        for (int i = 0; i < packets.Length; i++)
            foreach (PacketSpec p in ShrinkPacket(packets[i])) yield return (chains, Replace(packets, i, p));
    }

    /// <summary>Simpler versions of a descriptor of either ring type: without its lie (<paramref name="faultless"/>,
    /// null when it tells none), then with a simpler buffer (<paramref name="withBuf"/>).</summary>
    internal static IEnumerable<TDesc> SimplerDesc<TDesc>(BufSpec buf, TDesc? faultless, Func<BufSpec, TDesc> withBuf) where TDesc : struct
    {
        if (faultless is { } f) yield return f;
        foreach (BufSpec b in ShrinkBuf(buf)) yield return withBuf(b);
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

    /// <summary>
    /// A simpler setup, one change at a time: one memory region fewer, the regions back to back, then each negotiated
    /// feature bit dropped in turn.
    /// </summary>
    internal static IEnumerable<(int Regions, bool Contiguous, SplitFeatures Features)> SimplerSetup(int regions, bool contiguous,
        SplitFeatures features)
    {
        if (regions > 1) yield return (regions - 1, contiguous, features);
        if (!contiguous) yield return (regions, true, features);
        foreach (SplitFeatures f in Enum.GetValues<SplitFeatures>())
            if (f != SplitFeatures.None && (features & f) != 0) yield return (regions, contiguous, features & ~f);
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
