using System.Runtime.InteropServices;
using HotPath.Engine.Inflight;
using HotPath.Engine.Virtio;

namespace HotPath.Tests.Inflight;

/// <summary>
/// Packed-ring inflight tracking with the semantics of DPDK's rte_vhost_*_inflight_*_packed: chains copied into
/// free-list entries, returned at publication, committed by the old_* fields; a backend killed between publishing
/// and committing is rolled back or committed at ring start according to the ring; hostile regions stay bounded.
/// </summary>
public sealed unsafe class InflightPackedTests : IDisposable
{
    private const uint Size = 64;
    private readonly InflightRegion _region;
    private readonly VringPackedDesc* _ring;

    public InflightPackedTests()
    {
        Assert.Equal(0, InflightRegion.TryCreate(1, (ushort)Size, packed: true, out InflightRegion? r));
        _region = r!;
        _ring = (VringPackedDesc*)NativeMemory.AllocZeroed(Size, 16);
        for (uint i = 0; i < Size; i++)
            _ring[i] = new VringPackedDesc { Addr = 0x1000 * (i + 1), Len = 100 + i, Id = (ushort)(i % 7), Flags = Avail(true) };
    }

    private static ushort Avail(bool wrap) => wrap ? VringPackedDesc.FlagAvail : VringPackedDesc.FlagUsed;

    private InflightQueue Queue()
    {
        InflightQueue q = InflightQueue.For(_region, 0, Size, packed: true)!;
        InflightPacked.Start(q, _ring);
        return q;
    }

    private InflightPackedHeader* H => (InflightPackedHeader*)_region.Queue(0);
    private InflightPackedDesc* D => (InflightPackedDesc*)(_region.Queue(0) + InflightRegion.PackedHeaderSize);

    [Fact]
    public void Taking_copies_the_chain_into_free_entries_and_publishing_returns_them()
    {
        using InflightQueue q = Queue();
        Assert.True(InflightPacked.Take(q, _ring, 0, 2, out ushort a));        // 3 descriptors
        Assert.True(InflightPacked.Take(q, _ring, 3, 3, out ushort b));        // 1 descriptor
        Assert.Equal(0, a);
        Assert.Equal(3, b);
        Assert.Equal(3, D[a].Num);
        Assert.Equal(2, D[a].Last);
        Assert.Equal(1, D[a].Inflight);
        Assert.Equal(0x3000UL, D[2].Addr);
        Assert.Equal(103u, D[3].Len);
        Assert.Equal(1UL, D[b].Counter);
        Assert.Equal(4, H->OldFreeHead);

        Assert.True(InflightPacked.AddToBatch(q, a));
        Assert.Equal(3, H->UsedIdx);
        Assert.Equal(a, H->FreeHead);
        Assert.True(InflightPacked.Clear(q, a));
        Assert.Equal(0, D[a].Inflight);
        Assert.Equal(3, H->OldUsedIdx);
        Assert.Equal(a, H->OldFreeHead);
        // The next chain reuses the entries a gave back.
        Assert.True(InflightPacked.Take(q, _ring, 4, 4, out ushort c));
        Assert.Equal(a, c);
    }

    [Fact]
    public void Used_index_wraps_with_its_counter()
    {
        using InflightQueue q = Queue();
        H->UsedIdx = (ushort)(Size - 1);
        H->UsedWrapCounter = 1;
        Assert.True(InflightPacked.Take(q, _ring, Size - 1, 1, out ushort e));   // wraps: slots 63, 0, 1
        Assert.Equal(3, D[e].Num);
        Assert.True(InflightPacked.AddToBatch(q, e));
        Assert.Equal(2, H->UsedIdx);
        Assert.Equal(0, H->UsedWrapCounter);
    }

    [Fact]
    public void A_batch_published_but_not_committed_is_committed_when_the_ring_shows_it_used()
    {
        using (InflightQueue q = Queue())
        {
            Assert.True(InflightPacked.Take(q, _ring, 0, 1, out ushort e));
            Assert.True(InflightPacked.AddToBatch(q, e));
            _ring[0].Flags = (ushort)(VringPackedDesc.FlagAvail | VringPackedDesc.FlagUsed);   // written used, wrap 1
            // killed before Clear
        }
        using InflightQueue again = InflightQueue.For(_region, 0, Size, packed: true)!;
        Assert.Equal(0, InflightPacked.Start(again, _ring));
        Assert.Equal(2, H->OldUsedIdx);
        Assert.Equal(0x8002, InflightPacked.BaseFromRegion(again));
    }

    [Fact]
    public void A_batch_of_a_whole_lap_published_but_not_committed_is_committed()
    {
        using (InflightQueue q = Queue())
        {
            Assert.True(InflightPacked.Take(q, _ring, 0, Size - 1, out ushort e));   // last just before head: the whole ring
            Assert.Equal(Size, D[e].Num);
            Assert.True(InflightPacked.AddToBatch(q, e));
            Assert.Equal(0, H->UsedIdx);   // back at the index it began at, the wrap counter flipped
            _ring[0].Flags = (ushort)(VringPackedDesc.FlagAvail | VringPackedDesc.FlagUsed);
            // killed before Clear
        }
        using InflightQueue again = InflightQueue.For(_region, 0, Size, packed: true)!;
        Assert.Equal(0, InflightPacked.Start(again, _ring));   // DPDK compares the index only and would resubmit it
        Assert.Equal(0, H->OldUsedWrapCounter);
    }

    [Fact]
    public void A_batch_not_yet_visible_in_the_ring_is_rolled_back_and_resubmitted()
    {
        using (InflightQueue q = Queue())
        {
            Assert.True(InflightPacked.Take(q, _ring, 0, 1, out ushort first));
            Assert.True(InflightPacked.Take(q, _ring, 2, 2, out _));
            Assert.True(InflightPacked.AddToBatch(q, first));
            // killed before the descriptor flags were written (the ring still shows it available)
        }
        using InflightQueue again = InflightQueue.For(_region, 0, Size, packed: true)!;
        Assert.Equal(2, InflightPacked.Start(again, _ring));
        Assert.Equal(0, H->UsedIdx);
        Assert.Equal(0x8000, InflightPacked.BaseFromRegion(again));
        Assert.Equal(2, again.Resubmit->Num);
        Assert.Equal(2UL, again.GlobalCounter);
    }

    [Fact]
    public void Out_of_range_and_corrupt_free_lists_are_refused()
    {
        using InflightQueue q = Queue();
        Assert.False(InflightPacked.Take(q, _ring, Size, 0, out _));
        Assert.False(InflightPacked.Take(q, _ring, 0, Size, out _));
        Assert.False(InflightPacked.AddToBatch(q, Size));
        Assert.False(InflightPacked.Clear(q, 0xFFFF));
        D[0].Next = 0xFFFF;   // a frontend broke the free list
        Assert.False(InflightPacked.Take(q, _ring, 0, 5, out _));
        H->OldFreeHead = 0x7FFF;
        Assert.False(InflightPacked.Take(q, _ring, 0, 0, out _));
    }

    [Fact]
    public void Garbage_regions_never_make_the_start_or_the_functions_leave_the_region()
    {
        var random = new Random(3);
        var bytes = new Span<byte>(_region.Base, (int)_region.Size);
        for (int round = 0; round < 3000; round++)
        {
            random.NextBytes(bytes);
            H->Version = 1;
            using InflightQueue q = InflightQueue.For(_region, 0, Size, packed: true)!;
            int n = InflightPacked.Start(q, _ring);
            Assert.InRange(n, 0, (int)Size);
            InflightPacked.Take(q, _ring, (uint)random.Next((int)Size), (uint)random.Next((int)Size), out ushort e);
            InflightPacked.AddToBatch(q, (uint)random.Next(0x10000));
            InflightPacked.Clear(q, e);
        }
    }

    public void Dispose()
    {
        _region.Dispose();
        NativeMemory.AlignedFree(_ring);
    }
}
