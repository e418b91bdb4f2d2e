using HotPath.Engine.Buffers;
using HotPath.Engine.Interop;
using HotPath.Engine.Logging;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>What the datapath does for live migration: dirty logging of its guest writes, and the RARP announcement.</summary>
public unsafe class MigrationSupportTests
{
    private static DirtyLog MapLog(ulong guestEnd)
    {
        ulong bytes = ((guestEnd >> DirtyLog.PageShift) + 8) / 8;
        int fd = LibC.MemfdCreate("hp-dirty-log", (long)bytes);
        Assert.True(fd >= 0);
        Assert.Equal(MemoryError.None, DirtyLog.TryMap(fd, bytes, 0, out DirtyLog? log));
        return log!;
    }

    private static bool Dirty(DirtyLog log, ulong gpa) => log.IsDirty(gpa >> DirtyLog.PageShift);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Enqueue_marks_the_written_buffers_and_the_used_ring_dirty(bool slowPath)
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.LogAll, VirtioFeatures.NetMrgRxbuf), bufferSize: 4096);
        DirtyLog log = MapLog(lb.Device.Memory!.GuestPhysEnd);
        lb.Device.SetLog(log);
        SplitRingDriver rx = lb.Rx[0];
        // Two descriptors of 4 KiB take the slow path; one takes the inline path.
        Assert.True(rx.PostRx(slowPath ? 8192u : 4096u, slowPath ? 2 : 1));
        ushort head = rx.LastPostedHead;
        Assert.True(rx.PostRx(4096));
        ushort untouched = rx.LastPostedHead;
        rx.Publish();
        Mbuf* m = HandMbufs.Make(Payload.Make(slowPath ? 6000 : 1000, 1), segData: 4000);
        try { Assert.Equal(1, lb.Device.EnqueueBurst(0, &m, 1)); }
        finally { HandMbufs.Free(m); }

        Assert.True(Dirty(log, rx.Buffers.Gpa(head)));
        Assert.False(Dirty(log, rx.Buffers.Gpa(untouched)));
        Assert.True(Dirty(log, rx.Areas.DeviceAreaGpa));   // used ring elements and index
        Assert.Equal(0L, log.OutOfRangeWrites);
    }

    /// <summary>Issue 11: SET_LOG_BASE's mmap_offset need not be 0, nor page- or word-aligned. Bits land at the
    /// window's offset in the fd, and no byte of the fd outside the window changes.</summary>
    [Theory]
    [InlineData(4096UL)]
    [InlineData(4099UL)]   // the window starts inside a 64-bit word: the word that straddles it is ORed, not written
    [InlineData(13UL)]
    public void A_log_at_an_offset_of_its_fd_marks_inside_its_window_only(ulong offset)
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.LogAll, VirtioFeatures.NetMrgRxbuf), bufferSize: 4096);
        ulong bytes = ((lb.Device.Memory!.GuestPhysEnd >> DirtyLog.PageShift) + 8) / 8;
        ulong fdSize = offset + bytes + 64;
        int fd = LibC.MemfdCreate("hp-dirty-log-window", (long)fdSize);
        Assert.True(fd >= 0);
        // The frontend's view of the whole fd, to check what the backend changed.
        nint view = LibC.mmap(0, (nuint)fdSize, LibC.PROT_READ, LibC.MAP_SHARED, fd, 0);
        Assert.NotEqual(LibC.MAP_FAILED, view);
        try
        {
            Assert.Equal(MemoryError.None, DirtyLog.TryMap(LibC.dup(fd), bytes, offset, out DirtyLog? log));
            lb.Device.SetLog(log);
            SplitRingDriver rx = lb.Rx[0];
            Assert.True(rx.PostRx(4096));
            ushort head = rx.LastPostedHead;
            rx.Publish();
            Mbuf* m = HandMbufs.Make(Payload.Make(1000, 1));
            try { Assert.Equal(1, lb.Device.EnqueueBurst(0, &m, 1)); }
            finally { HandMbufs.Free(m); }

            var all = new ReadOnlySpan<byte>((byte*)view, (int)fdSize);
            ulong page = rx.Buffers.Gpa(head) >> DirtyLog.PageShift;
            Assert.True((all[(int)(offset + page / 8)] & (1 << (int)(page % 8))) != 0, "the buffer's page is not marked at the window's offset");
            Assert.True(all[..(int)offset].IndexOfAnyExcept((byte)0) < 0, "a byte before the window changed");
            Assert.True(all[(int)(offset + bytes)..].IndexOfAnyExcept((byte)0) < 0, "a byte after the window changed");
            Assert.Equal(0L, log!.OutOfRangeWrites);
        }
        finally
        {
            lb.Device.SetLog(null);
            LibC.munmap(view, (nuint)fdSize);
            LibC.close(fd);
        }
    }

    [Theory]
    [InlineData(1, 1000)]    // the single-chain path
    [InlineData(4, 1000)]    // a batch of 4
    [InlineData(1, 6000)]    // two segments: the slow path
    public void Packed_enqueue_marks_the_written_buffers_and_the_descriptor_ring_dirty(int packets, int len)
    {
        using var lb = new PackedLoopback(PackedLoopback.With(VirtioFeatures.LogAll, VirtioFeatures.NetMrgRxbuf), bufferSize: 8192);
        DirtyLog log = MapLog(lb.Device.Memory!.GuestPhysEnd);
        lb.Device.SetLog(log);
        PackedRingDriver rx = lb.Rx[0];
        var heads = new ushort[packets];
        for (int i = 0; i < packets; i++)
        {
            Assert.True(rx.PostRx(8192));
            heads[i] = rx.LastPostedHead;
        }
        Assert.True(rx.PostRx(8192));
        ushort untouched = rx.LastPostedHead;
        rx.Publish();
        Assert.False(Dirty(log, rx.Areas.DescGpa));
        Mbuf** ms = stackalloc Mbuf*[packets];
        for (int i = 0; i < packets; i++) ms[i] = HandMbufs.Make(Payload.Make(len, (ulong)i), segData: 4000);
        try { Assert.Equal(packets, lb.Device.EnqueueBurst(0, ms, (ushort)packets)); }
        finally { for (int i = 0; i < packets; i++) HandMbufs.Free(ms[i]); }

        foreach (ushort h in heads)
        {
            Assert.True(Dirty(log, rx.Buffers.Gpa(h)), $"buffer {h}'s first page");
            if (len > 4096) Assert.True(Dirty(log, rx.Buffers.Gpa(h) + 4096), $"buffer {h}'s second page");
        }
        Assert.False(Dirty(log, rx.Buffers.Gpa(untouched)));
        Assert.True(Dirty(log, rx.Areas.DescGpa));   // used descriptors are written back into the descriptor ring
        Assert.Equal(0L, log.OutOfRangeWrites);
    }

    /// <summary>
    /// Issue 12: while logging, no RX buffer takes an inline path (their writes are marked from the slow path's pieces,
    /// each with its guest address); the batch path comes back as soon as logging stops.
    /// </summary>
    [Fact]
    public void While_logging_rx_buffers_are_written_and_marked_by_the_slow_path_and_the_batch_path_returns_after()
    {
        using var lb = new PackedLoopback(PackedLoopback.With(VirtioFeatures.LogAll, VirtioFeatures.NetMrgRxbuf), ringSize: 256, bufferSize: 2048);
        DirtyLog log = MapLog(lb.Device.Memory!.GuestPhysEnd);
        lb.Device.SetLog(log);
        lb.Device.StatsEnabled = true;
        PackedRingDriver rx = lb.Rx[0];
        var heads = new ushort[8];
        for (int i = 0; i < 8; i++)
        {
            Assert.True(rx.PostRx(2048));
            heads[i] = rx.LastPostedHead;
        }
        rx.Publish();
        Assert.Equal(4, Enqueue(lb, 4, 0));
        Assert.Equal(0UL, lb.RxVring().Stats[VringStats.PackedBatchDescriptors]);
        for (int i = 0; i < 4; i++) Assert.True(Dirty(log, rx.Buffers.Gpa(heads[i])), $"buffer {heads[i]}");
        Assert.False(Dirty(log, rx.Buffers.Gpa(heads[4])));

        lb.Device.SetLog(null);
        Assert.Equal(4, Enqueue(lb, 4, 4));
        Assert.Equal(4UL, lb.RxVring().Stats[VringStats.PackedBatchDescriptors]);
        var buf = new byte[4096];
        for (ulong i = 0; i < 8; i++)
        {
            Assert.True(rx.TryReceive(buf, out RxInfo info));
            Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), i));
        }

        static int Enqueue(PackedLoopback lb, int n, int first)
        {
            Mbuf** ms = stackalloc Mbuf*[n];
            for (int i = 0; i < n; i++) ms[i] = HandMbufs.Make(Payload.Make(200, (ulong)(first + i)));
            try { return lb.Device.EnqueueBurst(0, ms, (ushort)n); }
            finally { for (int i = 0; i < n; i++) HandMbufs.Free(ms[i]); }
        }
    }

    [Fact]
    public void Packed_used_descriptor_logging_stays_inside_the_ring_across_many_wraps()
    {
        // Ring of 8, bursts of 3: the used range of a burst wraps every few bursts; a wrong range would reach pages
        // past the ring (or past the log) and be counted as out of range, or miss the ring.
        using var lb = new PackedLoopback(PackedLoopback.With(VirtioFeatures.LogAll), ringSize: 8, bufferSize: 2048);
        DirtyLog log = MapLog(lb.Device.Memory!.GuestPhysEnd);
        lb.Device.SetLog(log);
        PackedRingDriver rx = lb.Rx[0];
        Mbuf** ms = stackalloc Mbuf*[3];
        var buf = new byte[2048];
        for (int round = 0; round < 100; round++)
        {
            for (int i = 0; i < 3; i++) Assert.True(rx.PostRx(2048));
            rx.Publish();
            for (int i = 0; i < 3; i++) ms[i] = HandMbufs.Make(Payload.Make(100, (ulong)(round * 3 + i)));
            try { Assert.Equal(3, lb.Device.EnqueueBurst(0, ms, 3)); }
            finally { for (int i = 0; i < 3; i++) HandMbufs.Free(ms[i]); }
            for (int i = 0; i < 3; i++) Assert.True(rx.TryReceive(buf, out _));
        }
        Assert.True(Dirty(log, rx.Areas.DescGpa));
        Assert.Equal(0L, log.OutOfRangeWrites);
    }

    [Fact]
    public void Dequeue_marks_only_the_used_ring_dirty()
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.LogAll));
        using Mempool pool = TestPools.Create();
        DirtyLog log = MapLog(lb.Device.Memory!.GuestPhysEnd);
        lb.Device.SetLog(log);
        SplitRingDriver tx = lb.Tx[0];
        Assert.True(tx.PostTx(new byte[tx.HeaderSize], Payload.Make(500, 1)));
        ushort head = tx.LastPostedHead;
        tx.Publish();
        var mbufs = new nint[4];
        Assert.Equal(1, lb.Device.DequeueBurst(1, pool, mbufs));
        MbufOps.Free((Mbuf*)mbufs[0]);
        Assert.True(Dirty(log, tx.Areas.DeviceAreaGpa));
        Assert.False(Dirty(log, tx.Buffers.Gpa(head)));   // read, not written
    }

    [Fact]
    public void Nothing_is_logged_without_log_all()
    {
        using var lb = new Loopback();
        DirtyLog log = MapLog(lb.Device.Memory!.GuestPhysEnd);
        lb.Device.SetLog(log);
        lb.Rx[0].PostRx(2048);
        lb.Rx[0].Publish();
        Mbuf* m = HandMbufs.Make(Payload.Make(100, 1));
        try { Assert.Equal(1, lb.Device.EnqueueBurst(0, &m, 1)); }
        finally { HandMbufs.Free(m); }
        Assert.False(Dirty(log, lb.Rx[0].Areas.DeviceAreaGpa));
    }

    [Fact]
    public void Send_rarp_puts_one_announcement_in_front_of_the_next_dequeue_burst()
    {
        using var lb = new Loopback();
        using Mempool pool = TestPools.Create();
        byte[] mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
        lb.Device.RequestRarp(mac);
        SplitRingDriver tx = lb.Tx[0];
        Assert.True(tx.PostTx(new byte[tx.HeaderSize], Payload.Make(100, 7)));
        tx.Publish();
        var mbufs = new nint[8];
        Assert.Equal(2, lb.Device.DequeueBurst(1, pool, mbufs));
        var rarp = new ReadOnlySpan<byte>(((Mbuf*)mbufs[0])->Data, ((Mbuf*)mbufs[0])->DataLen);
        Assert.Equal(64, rarp.Length);
        Assert.True(rarp[..6].IndexOfAnyExcept((byte)0xFF) < 0);
        Assert.True(rarp.Slice(6, 6).SequenceEqual(mac));
        Assert.Equal(0x80, rarp[12]);
        Assert.Equal(0x35, rarp[13]);
        Assert.Equal(3, rarp[21]);                          // opcode: reverse request
        Assert.True(rarp.Slice(22, 6).SequenceEqual(mac));  // sender hardware address
        Assert.True(rarp.Slice(32, 6).SequenceEqual(mac));  // target hardware address
        Assert.True(Payload.Matches(new ReadOnlySpan<byte>(((Mbuf*)mbufs[1])->Data, 100), 7));
        MbufOps.Free((Mbuf*)mbufs[0]);
        MbufOps.Free((Mbuf*)mbufs[1]);
        Assert.False(lb.Device.RarpPending);
        tx.PostTx(new byte[tx.HeaderSize], Payload.Make(100, 8));
        tx.Publish();
        Assert.Equal(1, lb.Device.DequeueBurst(1, pool, mbufs));   // announced once
        MbufOps.Free((Mbuf*)mbufs[0]);
        Assert.Equal(0u, pool.InUse);
    }
}
