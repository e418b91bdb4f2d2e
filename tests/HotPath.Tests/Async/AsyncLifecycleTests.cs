using System.Diagnostics;
using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Datapath;
using HotPath.Tests.Infrastructure;
using HotPath.Tests.Migration;
using HotPath.Tests.Protocol;
using Xunit.Abstractions;

namespace HotPath.Tests.Async;

/// <summary>
/// Every async resource with a lifetime over thousands of lifecycles (SECURITY.md case 18): built-in-engine channels
/// registered on a device's RX queue and torn down with copies in flight (unregister, ring disable plus clear,
/// GET_VRING_BASE and restart, and every 50th a disconnect and a new connection), copy engines (a thread and a ring
/// each) and their channels. After each cycle no mbuf is in use, the queue's native block is gone and the guest saw
/// exactly the packets submitted; at the end the process's threads, fds, memfd mappings and C heap are where they
/// were after the warm-up.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class AsyncLifecycleTests(ITestOutputHelper output)
{
    private const int Warmup = 300, Burst = 32, ReconnectEvery = 50;

    /// <summary>
    /// C heap the runs may hold beyond the baseline. The process's C heap moves by a few MiB on its own (measured:
    /// -6 to +5 MiB over 100 to 6,000 cycles, not growing with the cycle count: the runtime's and glibc's caches),
    /// so it only bounds the engine channels' job arrays (~128 KiB each: 2,000 leaked would be 250 MiB). The async
    /// queues' blocks (~0.7 MiB each) are counted exactly (<see cref="NativeScratch.LiveBytes"/>).
    /// </summary>
    private const long HeapAllowance = 16 << 20;

    /// <summary>
    /// Threads that may appear meanwhile without being ours: the runtime starts (and retires) thread-pool and
    /// tiered-compilation workers on its own schedule. A leaked engine thread per cycle would be thousands.
    /// </summary>
    private const int ThreadAllowance = 2;

    private enum Teardown { Unregister, DisableAndClear, StopAndRestart, Disconnect }

    private readonly record struct Snapshot(int Threads, int Fds, int Memfds, long Scratch, long Heap)
    {
        // The scratch count first: without a GC, so that a block left for a finalizer to free still counts.
        public static Snapshot Now() => new(ProcessResources.Threads, ProcessResources.OpenFds,
            ProcessResources.MemfdMappings, NativeScratch.LiveBytes, NativeHeap.InUseAfterGc);
    }

    [Fact]
    public void Two_thousand_channel_lifecycles_with_copies_in_flight_strand_no_mbuf_thread_fd_or_native_memory()
    {
        const int Cycles = 2100;   // 42 disconnects, about 686 of each other teardown
        SocketLoopback lb = Connect();
        using var engine = new CopyEngine("hp-copy-lc");
        var pkts = new nint[Burst];
        var counts = new int[4];
        long received = 0;
        int inFlightAtTeardown = 0;
        Snapshot baseline = default;
        var clock = new Stopwatch();
        try
        {
            for (int cycle = 0; cycle < Warmup + Cycles; cycle++)
            {
                if (cycle == Warmup)
                {
                    baseline = Snapshot.Now();
                    clock.Start();
                }
                var teardown = cycle % ReconnectEvery == ReconnectEvery - 1 ? Teardown.Disconnect
                    : (Teardown)(cycle % 3);
                long scratch = NativeScratch.LiveBytes;
                CopyEngineChannel ch = engine.CreateChannel();
                // Owned: unregister (and a device teardown) dispose the channel, as the C API's built-in engine channels.
                uint features = new AsyncFeatures(true, 256).Value;
                Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, features, ch, ownsChannel: true));
                Submit(lb, pkts);
                // The engine had not finished when the teardown began.
                if (ch.InFlight != 0 && cycle >= Warmup) inFlightAtTeardown++;
                uint freed;
                switch (teardown)
                {
                    case Teardown.Unregister:
                        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(0, out freed));
                        Assert.Equal((uint)Burst, freed);   // never polled back: the unregister frees them
                        break;
                    case Teardown.DisableAndClear:
                        lb.Frontend.SetVringEnable(0, false);   // settles the queue with the copies in flight
                        Assert.Equal(AsyncError.None, lb.Device.ClearQueue(0, pkts, out ushort n));
                        Assert.Equal(Burst, n);
                        fixed (nint* p = pkts) MbufOps.FreeBulk((Mbuf**)p, n);
                        lb.Frontend.SetVringEnable(0, true);
                        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(0, out freed));
                        Assert.Equal(0u, freed);
                        break;
                    case Teardown.StopAndRestart:
                        StopAndRestart(lb);
                        List<nint> back = AsyncPackets.PollBack(lb.Device, 0, Burst);
                        foreach (nint m in back) MbufOps.Free((Mbuf*)m);
                        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(0, out freed));
                        Assert.Equal(0u, freed);
                        break;
                    case Teardown.Disconnect:
                        // The frontend goes with the copies in flight: the device's teardown settles the queue, frees
                        // the packets and disposes the channel (destroy_connection comes after all of it).
                        EventMark mark = lb.Events.Mark();
                        lb.Frontend.Dispose();
                        lb.Events.WaitFor("destroy_connection", AsyncPackets.Wait, mark);
                        break;
                }
                Assert.Equal(0u, lb.Pool.InUse);
                Assert.Equal(Burst, lb.Guest.Collect());   // each byte-exact and new (ReceivedSeqs)
                received += Burst;
                if (teardown == Teardown.Disconnect)
                {
                    Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
                    lb.Dispose();
                    lb = Connect();
                }
                // The queue's block went with the unregister (an older test's finalized scratch may only lower it).
                Assert.InRange(NativeScratch.LiveBytes, 0, scratch);
                if (cycle >= Warmup) counts[(int)teardown]++;
            }
            clock.Stop();
            Assert.Equal(lb.Guest.Sent, lb.Guest.Received);
            // The event loop closes the fds of a restart's old eventfds and memory after replying: wait, boundedly.
            SpinWait.SpinUntil(() => ProcessResources.OpenFds <= baseline.Fds
                && ProcessResources.Threads <= baseline.Threads + ThreadAllowance, TimeSpan.FromSeconds(10));
            Snapshot end = Snapshot.Now();
            output.WriteLine($"{Cycles} cycles in {clock.Elapsed.TotalSeconds:0.0} s (unregister {counts[0]}, " +
                $"disable+clear {counts[1]}, GET_VRING_BASE+restart {counts[2]}, disconnect and a new connection " +
                $"{counts[3]}; {Warmup} warm-up cycles before); copies still in flight at the teardown in " +
                $"{inFlightAtTeardown}; {received} packets; threads {baseline.Threads}->{end.Threads}, " +
                $"fds {baseline.Fds}->{end.Fds}, memfd mappings {baseline.Memfds}->{end.Memfds}, " +
                $"async/vring scratch {baseline.Scratch}->{end.Scratch} B, C heap {baseline.Heap}->{end.Heap} B");
            Assert.InRange(end.Fds, 0, baseline.Fds);
            Assert.InRange(end.Memfds, 0, baseline.Memfds);
            Assert.InRange(end.Threads, 0, baseline.Threads + ThreadAllowance);
            Assert.InRange(end.Scratch, 0, baseline.Scratch);
            Assert.InRange(end.Heap, 0, baseline.Heap + HeapAllowance);
        }
        finally
        {
            lb.Dispose();
        }
    }

    private static SocketLoopback Connect()
    {
        var lb = new SocketLoopback("async-lifecycles", ringSize: 256);
        lb.Guest.ReceivedSeqs = new HashSet<ulong>();   // a packet delivered twice fails the cycle
        return lb;
    }

    /// <summary>The guest sends a burst over the threshold; the application dequeues it and submits it to the RX
    /// queue's channel.</summary>
    private static void Submit(SocketLoopback lb, nint[] pkts)
    {
        Assert.Equal(Burst, lb.Guest.Send(Burst, s => 512 + (int)(s * 37 % 1000)));
        int got = 0;
        AsyncPackets.WaitFor(() => (got += lb.Device.DequeueBurst(1, lb.Pool, pkts.AsSpan(got))) == Burst, "the guest's burst");
        Assert.Equal(Burst, lb.Device.SubmitEnqueueBurst(0, pkts));
        lb.Guest.Tx.ReapTx();
    }

    /// <summary>GET_VRING_BASE on both rings (the RX one settles the copies in flight), then the device starts again
    /// from those bases.</summary>
    private static void StopAndRestart(SocketLoopback lb)
    {
        EventMark mark = lb.Events.Mark();
        uint rx = lb.Frontend.GetVringBase(0), tx = lb.Frontend.GetVringBase(1);
        Assert.Equal((ushort)rx, ((HotPath.Frontend.Rings.SplitRingDriver)lb.Guest.Rx).UsedIdx);   // every reserved chain used
        lb.Guest.Rings[0].BaseIndex = rx;
        lb.Guest.Rings[1].BaseIndex = tx;
        lb.Frontend.StartDevice(lb.Guest.Memory, lb.Guest.Rings);
        lb.Events.WaitFor($"new_device {lb.Device.Vid}", AsyncPackets.Wait, mark);
    }

    [Fact]
    public void Two_thousand_copy_engines_and_ten_thousand_channels_leave_no_thread_ring_or_heap_behind()
    {
        const int Engines = 2000, Channels = 10_000;
        for (int i = 0; i < 10; i++) new CopyEngine("hp-copy-warm").Dispose();
        int threads = ProcessResources.Threads;
        int maps = ProcessResources.Mappings;
        long heap = NativeHeap.InUseAfterGc;
        var clock = Stopwatch.StartNew();
        // Each starts, then joins, its copy thread, and maps, then unmaps, its ring.
        for (int i = 0; i < Engines; i++) new CopyEngine("hp-copy-lc").Dispose();
        TimeSpan engines = clock.Elapsed;
        // Channels come and go on one engine (each a job array and a completion counter on the C heap).
        using (var engine = new CopyEngine("hp-copy-ch"))
            for (int i = 0; i < Channels; i++) engine.CreateChannel().Dispose();
        clock.Stop();
        SpinWait.SpinUntil(() => ProcessResources.Threads <= threads + ThreadAllowance, TimeSpan.FromSeconds(10));
        int threadsEnd = ProcessResources.Threads;
        int mapsEnd = ProcessResources.Mappings;
        long heapEnd = NativeHeap.InUseAfterGc;
        output.WriteLine($"{Engines} engines in {engines.TotalSeconds:0.0} s, " +
            $"{Channels} channels in {(clock.Elapsed - engines).TotalSeconds:0.0} s; " +
            $"threads {threads}->{threadsEnd}, mappings {maps}->{mapsEnd}, C heap {heap}->{heapEnd} B");
        Assert.InRange(threadsEnd, 0, threads + ThreadAllowance);
        Assert.InRange(heapEnd, 0, heap + HeapAllowance);
        // An engine's ring is a mapping of its own outside the C heap (between guard pages): 2,000 leaked would be
        // 2,000 more. The runtime maps some on its own as threads come and go (GC regions, code heaps, cached thread
        // stacks: measured +6 after 200 engines, +40 after 2,000, +45 after 6,000). RSS says nothing here: .NET
        // itself keeps ~5 KiB per thread that ever ran (measured with plain threads), whether or not an engine leaks.
        Assert.InRange(mapsEnd, 0, maps + 128);
    }
}
