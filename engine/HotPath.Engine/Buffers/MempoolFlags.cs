namespace HotPath.Engine.Buffers;

/// <summary>Pool creation flags, values as the C API's HP_MEMPOOL_F_*.</summary>
[Flags]
public enum MempoolFlags : uint
{
    None = 0,
    /// <summary>HP_MEMPOOL_F_NO_HUGE: put the objects on normal pages even when hugepages are available.</summary>
    NoHuge = 1,
}

/// <summary>What the object area of a pool actually lives on.</summary>
public enum MempoolBacking : uint
{
    /// <summary>2 MiB hugepages (anonymous MAP_HUGETLB).</summary>
    Hugepages = 0,
    /// <summary>Normal 4 KiB pages, by request (NoHuge) or because hugepages could not be had.</summary>
    NormalPages = 1,
}
