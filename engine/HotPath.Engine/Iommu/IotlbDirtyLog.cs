using HotPath.Engine.Datapath;
using HotPath.Engine.Logging;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Iommu;

/// <summary>
/// Dirty logging of what an IOTLB burst writes into guest buffers. The slow paths the IOTLB bursts share with the
/// IOTLB-off path log their pieces by <see cref="BufPiece.Gpa"/>, which under the IOTLB is an IOVA; the log is by
/// guest physical address (DPDK's __vhost_log_cache_write_iova, the kernel's "vhost: log dirty page correctly"). So
/// an IOTLB burst takes the ring's log away from the slow path for the time of its copies (<see cref="Suspend"/>),
/// marks each step's pieces itself at the guest physical addresses their mappings lead to (<see cref="Step"/>), and
/// gives the log back before publication (<see cref="Resume"/>), whose used-ring logging goes by the log address
/// translated with the ring (<see cref="Vring.LogGuestPhysAddr"/>). The IOTLB-off paths are untouched.
/// Runs with the vring's access lock held, the only time <see cref="Vring.ActiveLog"/> may change.
/// </summary>
internal static unsafe class IotlbDirtyLog
{
    /// <summary>The ring's log while logging is on (then taken from the slow path until <see cref="Resume"/>), else null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DirtyLog? Suspend(Vring vq)
    {
        DirtyLog? log = vq.ActiveLog;
        if (log != null) vq.ActiveLog = null;
        return log;
    }

    /// <summary>Gives the ring its log back (before publication: the used entries are logged there).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Resume(Vring vq, DirtyLog? log)
    {
        if (log != null) vq.ActiveLog = log;
    }

    /// <summary>
    /// A slow-path step queued the shadow used entries [<paramref name="from"/>, <paramref name="to"/>): the bytes
    /// they report were written into the scratch pieces in order (a dropped chain reports 0, and a mergeable packet's
    /// buffers are gathered one after the other), after its copies: marks their guest physical pages.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Step(DirtyLog log, IotlbViews views, Vring vq, uint from, uint to)
    {
        SplitScratch s = vq.SplitScratch!;
        ulong bytes = 0;
        for (uint i = from; i < to; i++) bytes += s.Shadow[i].Len;
        Pieces(log, views, vq.Stats, s.Vec, s.VecCapacity, bytes);
    }

    /// <summary>
    /// Packed rings: a slow-path step delivered a packet of <paramref name="bytes"/> bytes (header included) into the
    /// scratch pieces, from the first (a step that delivers nothing writes nothing: dropped chains are returned with
    /// length 0): marks their guest physical pages.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void PackedStep(DirtyLog log, IotlbViews views, Vring vq, ulong bytes)
    {
        PackedScratch s = vq.PackedScratch!;
        Pieces(log, views, vq.Stats, s.Vec, s.VecCapacity, bytes);
    }

    /// <summary>Marks the first <paramref name="bytes"/> bytes written into the pieces, by guest physical address.</summary>
    public static void Pieces(DirtyLog log, IotlbViews views, VringStats stats, BufPiece* vec, int nVec, ulong bytes)
    {
        ulong pages = 0;
        for (int i = 0; i < nVec && bytes != 0; i++)
        {
            ulong n = Math.Min(bytes, vec[i].Len);
            // The piece was translated through the views this burst holds: one mapping, contiguous in GPA.
            ulong gpa = views.IovaToGpa(vec[i].Gpa);
            Debug.Assert(gpa != ulong.MaxValue);
            pages += log.MarkRange(gpa, n);
            bytes -= n;
        }
        stats.Add(VringStats.LogPagesMarked, pages);
    }
}
