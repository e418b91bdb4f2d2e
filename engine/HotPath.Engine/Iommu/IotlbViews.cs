using HotPath.Engine.Memory;
using HotPath.Engine.Stats;

namespace HotPath.Engine.Iommu;

/// <summary>
/// What the IOTLB bursts translate through: the cache's mappings resolved to host addresses in the current memory
/// table, as three translation tables keyed by IOVA: every mapping (<see cref="Any"/>: tells a miss from a mapped
/// address), the readable ones (<see cref="Read"/>: TX buffers, descriptor and indirect tables) and the writable
/// ones (<see cref="Write"/>: RX buffers; it reads indirect tables through <see cref="Read"/>). Immutable: the
/// control plane builds a new set after every IOTLB or memory-table change and swaps it in with every vring's
/// access lock held, so a burst never sees a mapping after the invalidation that removed it was acknowledged.
/// <para>Dirty logging goes by guest physical address, not IOVA: each mapping of <see cref="Any"/> also carries the
/// distance from its IOVAs to the guest physical addresses its frontend virtual addresses have in the memory table
/// (IOVA -> uaddr -> GPA, as DPDK's __vhost_log_cache_write_iova and the kernel's log_write_hva find them). A mapping
/// lies inside one region, so that distance is one number per mapping (<see cref="IovaToGpa"/>).</para>
/// </summary>
public sealed class IotlbViews : IDisposable
{
    public GuestMemory Any { get; }
    public GuestMemory Read { get; }
    public GuestMemory Write { get; }

    /// <summary>Per range of <see cref="Any"/> (same order): guest physical address minus IOVA.</summary>
    private readonly ulong[] _gpaDelta;

    private IotlbViews(GuestMemory any, GuestMemory read, GuestMemory write, ulong[] gpaDelta)
    {
        Any = any;
        Read = read;
        Write = write;
        _gpaDelta = gpaDelta;
    }

    /// <summary>
    /// The guest physical address of <paramref name="iova"/>, which a piece translated through one of the views
    /// starts at (the piece lies in that one mapping, so its GPAs are contiguous from here); ulong.MaxValue when no
    /// mapping holds it.
    /// </summary>
    public ulong IovaToGpa(ulong iova)
    {
        int i = Any.FindRegion(iova);
        return i < 0 ? ulong.MaxValue : iova + _gpaDelta[i];
    }

    /// <summary>Views of <paramref name="cache"/> through <paramref name="memory"/> (none mapped without a table).</summary>
    public static unsafe IotlbViews Build(IotlbCache cache, GuestMemory? memory)
    {
        var any = new List<(ulong First, ulong Last, long Delta, byte Perm)>(cache.Count);
        var gpaDelta = new List<ulong>(cache.Count);
        if (memory != null)
        {
            foreach (IotlbEntry e in cache.Entries)
            {
                // Checked at the door against the table of the time; a mapping the current table does not hold whole
                // is left out (the device misses on it and asks again).
                byte* host = memory.QvaToHost(e.UserAddr, e.Size);
                if (host == null) continue;
                any.Add((e.Iova, e.Last, (long)((ulong)host - e.Iova), e.Perm));
                gpaDelta.Add(memory.QvaToGpa(e.UserAddr) - e.Iova);   // wraps on purpose: added back to an IOVA
            }
        }
        GuestMemory anyView = Table(any, 0, DropReason.BufferOutsideMemory, null);
        GuestMemory read = Table(any, IotlbPerm.Read, DropReason.IotlbPermissionDenied, null);
        GuestMemory write = Table(any, IotlbPerm.Write, DropReason.IotlbPermissionDenied, read);
        return new IotlbViews(anyView, read, write, gpaDelta.ToArray());
    }

    private static GuestMemory Table(List<(ulong First, ulong Last, long Delta, byte Perm)> all, byte perm,
        DropReason unmapped, GuestMemory? tables)
    {
        int n = 0;
        foreach (var r in all)
            if ((r.Perm & perm) == perm) n++;
        ulong[] first = new ulong[n], last = new ulong[n];
        long[] delta = new long[n];
        int k = 0;
        foreach (var r in all)
        {
            if ((r.Perm & perm) != perm) continue;
            first[k] = r.First;
            last[k] = r.Last;
            delta[k] = r.Delta;
            k++;
        }
        return new GuestMemory(first, last, delta, unmapped, tables);
    }

    public void Dispose()
    {
        Any.Dispose();
        Read.Dispose();
        Write.Dispose();
    }
}
