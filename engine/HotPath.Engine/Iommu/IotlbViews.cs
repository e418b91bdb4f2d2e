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
/// </summary>
public sealed class IotlbViews : IDisposable
{
    public GuestMemory Any { get; }
    public GuestMemory Read { get; }
    public GuestMemory Write { get; }

    private IotlbViews(GuestMemory any, GuestMemory read, GuestMemory write)
    {
        Any = any;
        Read = read;
        Write = write;
    }

    /// <summary>Views of <paramref name="cache"/> through <paramref name="memory"/> (none mapped without a table).</summary>
    public static unsafe IotlbViews Build(IotlbCache cache, GuestMemory? memory)
    {
        var any = new List<(ulong First, ulong Last, long Delta, byte Perm)>(cache.Count);
        if (memory != null)
        {
            foreach (IotlbEntry e in cache.Entries)
            {
                // Checked at the door against the table of the time; a mapping the current table does not hold whole
                // is left out (the device misses on it and asks again).
                byte* host = memory.QvaToHost(e.UserAddr, e.Size);
                if (host != null) any.Add((e.Iova, e.Last, (long)((ulong)host - e.Iova), e.Perm));
            }
        }
        GuestMemory anyView = Table(any, 0, DropReason.BufferOutsideMemory, null);
        GuestMemory read = Table(any, IotlbPerm.Read, DropReason.IotlbPermissionDenied, null);
        GuestMemory write = Table(any, IotlbPerm.Write, DropReason.IotlbPermissionDenied, read);
        return new IotlbViews(anyView, read, write);
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
