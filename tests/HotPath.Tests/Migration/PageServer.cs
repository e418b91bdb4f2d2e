using System.Runtime.InteropServices;
using HotPath.Engine.Interop;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;

namespace HotPath.Tests.Migration;

/// <summary>
/// The destination QEMU's part in a postcopy migration, for one guest memory region: it holds the backend's
/// userfaultfd (from POSTCOPY_ADVISE), a copy of the region as the source has it, and answers each fault the
/// backend takes on a page that has not arrived with that page (UFFDIO_COPY). <see cref="Withdraw"/> makes pages
/// "not arrived yet" by dropping them from the shared memory, as a destination's memory is before postcopy fills it.
/// </summary>
internal sealed unsafe class PageServer : IDisposable
{
    public const int PageSize = 4096;
    private const int MADV_REMOVE = 9;

    private readonly int _ufd;
    private readonly FrontendMemory.Region _region;
    private readonly ulong _clientBase;
    private readonly byte* _source;
    private readonly HashSet<ulong> _withdrawn = new();

    /// <summary>Region offsets of the pages the backend asked for, in order.</summary>
    public List<ulong> Requested { get; } = new();

    /// <summary>Takes ownership of <paramref name="ufd"/>; <paramref name="clientBase"/> is the backend's address of
    /// the region's first byte (the postcopy SET_MEM_TABLE reply).</summary>
    public PageServer(int ufd, FrontendMemory.Region region, ulong clientBase)
    {
        _ufd = ufd;
        _region = region;
        _clientBase = clientBase;
        _source = (byte*)NativeMemory.AlignedAlloc((nuint)region.Size, PageSize);
    }

    public int Fd => _ufd;

    /// <summary>
    /// Snapshots the region as the source holds it, then drops every page that holds no part of a ring in
    /// <paramref name="rings"/> (and lies below the allocator's high-water mark): packet buffers then arrive only on
    /// request. Returns how many pages were dropped.
    /// </summary>
    public int Withdraw(IReadOnlyList<RingAreas> rings)
    {
        Buffer.MemoryCopy(_region.Host, _source, _region.Size, _region.Size);
        var ringPages = new HashSet<ulong>();
        foreach (RingAreas r in rings)
        {
            AddPages(ringPages, r.DescGpa, r.Size * 16UL);
            AddPages(ringPages, r.DriverAreaGpa, r.Packed ? 4UL : 6UL + 2UL * r.Size);
            AddPages(ringPages, r.DeviceAreaGpa, r.Packed ? 4UL : 6UL + 8UL * r.Size);
        }
        int n = 0;
        for (ulong off = 0; off < (_region.Next + PageSize - 1) / PageSize * PageSize; off += PageSize)
        {
            if (ringPages.Contains(off)) continue;
            int rc = LibC.madvise((nint)(_region.Host + off), PageSize, MADV_REMOVE);
            if (rc != 0) throw new IOException($"MADV_REMOVE at offset 0x{off:x}: {LibC.StrError(LibC.Errno)}");
            _withdrawn.Add(off);
            n++;
        }
        return n;
    }

    private void AddPages(HashSet<ulong> pages, ulong gpa, ulong len)
    {
        ulong first = (gpa - _region.GuestPhysAddr) / PageSize, last = (gpa - _region.GuestPhysAddr + len - 1) / PageSize;
        for (ulong p = first; p <= last; p++) pages.Add(p * PageSize);
    }

    /// <summary>True when <paramref name="offset"/> is a page <see cref="Withdraw"/> dropped.</summary>
    public bool WasWithdrawn(ulong offset) => _withdrawn.Contains(offset);

    /// <summary>Waits up to <paramref name="timeoutMs"/> for the backend's next fault; its page's region offset, or
    /// null when none came.</summary>
    public ulong? NextFault(int timeoutMs)
    {
        if (PollCalls.WaitReadable(_ufd, timeoutMs) <= 0) return null;
        byte* msg = stackalloc byte[LibC.UffdMsgSize];
        nint got = LibC.read(_ufd, msg, LibC.UffdMsgSize);
        if (got < 0 && LibC.Errno == LibC.EAGAIN) return null;   // woken for nothing (another reader, or the wake raced)
        if (got != LibC.UffdMsgSize) throw new IOException($"read of the userfaultfd returned {got}: {LibC.StrError(LibC.Errno)}");
        if (msg[0] != LibC.UFFD_EVENT_PAGEFAULT) throw new InvalidDataException($"userfaultfd event 0x{msg[0]:x2}, expected a page fault");
        ulong address = *(ulong*)(msg + LibC.UffdMsgAddressOffset);
        if (address < _clientBase || address - _clientBase >= _region.Size)
            throw new InvalidDataException($"fault at 0x{address:x}, outside the region [0x{_clientBase:x}, +0x{_region.Size:x})");
        ulong offset = (address - _clientBase) & ~(ulong)(PageSize - 1);
        Requested.Add(offset);
        return offset;
    }

    /// <summary>Places the source's copy of the page at <paramref name="offset"/> and wakes the thread waiting on it.</summary>
    public void Serve(ulong offset)
    {
        int rc = LibC.UserFaultCopy(_ufd, (nint)(_clientBase + offset), (nint)(_source + offset), PageSize);
        if (rc != 0) throw new IOException($"UFFDIO_COPY at offset 0x{offset:x}: {LibC.StrError(-rc)}");
    }

    public void Dispose()
    {
        LibC.close(_ufd);
        NativeMemory.AlignedFree(_source);
    }
}
