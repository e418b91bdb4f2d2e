namespace HotPath.Frontend.Rings;

/// <summary>
/// How a ring driver lays a TX packet out in descriptors: header with the data or in a descriptor of its own, data
/// over one or several descriptors, all of it behind an indirect table, or (single descriptor only) in the buffer
/// that crosses a region boundary.
/// </summary>
public readonly record struct TxShape(bool SeparateHeader = false, int DataDescriptors = 1, bool Indirect = false, bool CrossRegion = false)
{
    public static readonly TxShape Single = new();
    public static readonly TxShape HeaderApart = new(SeparateHeader: true);

    /// <summary>Descriptors the layout takes (inside the indirect table when <see cref="Indirect"/>).</summary>
    public int Descriptors => (SeparateHeader ? 1 : 0) + Math.Max(1, DataDescriptors);
}
