using System.Runtime.InteropServices;
using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;
using HotPath.Tests.Datapath;

namespace HotPath.Tests.Async;

/// <summary>
/// The built-in engine's channel as the async queue uses it: the completion counter a poll reads before it calls the
/// channel, and a channel too small for a burst (the CPU copies the packets it cannot take, counted).
/// </summary>
public unsafe class CopyEngineChannelTests
{
    [Fact]
    public void The_completion_counter_reports_a_copy_once_and_only_after_its_bytes_are_written()
    {
        using var engine = new CopyEngine("hp-copy-counter");
        using CopyEngineChannel ch = engine.CreateChannel(capacity: 4);
        const int Len = 4000;
        byte* src = (byte*)NativeMemory.Alloc(Len), dst = (byte*)NativeMemory.AllocZeroed(Len);
        try
        {
            for (int i = 0; i < Len; i++) src[i] = (byte)(i * 7 + 3);
            var srcIov = new IoVec { Base = src, Len = Len };
            var dstIov = new IoVec { Base = dst, Len = Len };
            var si = new AsyncIovIter { Count = Len, Iov = &srcIov, NrSegs = 1 };
            var di = new AsyncIovIter { Count = Len, Iov = &dstIov, NrSegs = 1 };
            var desc = new AsyncDesc { Src = &si, Dst = &di };
            nuint* tokens = stackalloc nuint[4];
            tokens[0] = 41;
            var status = new AsyncStatus { DstOpaqueData = tokens };

            Assert.False(ch.HasCompletions);
            Assert.Equal(1u, ch.TransferData(0, 0, &desc, &status, 1));
            AsyncPackets.WaitFor(() => ch.HasCompletions, "the engine's completion count");
            // Acquire on the counter: the bytes are there once the count says so.
            Assert.True(new ReadOnlySpan<byte>(dst, Len).SequenceEqual(new ReadOnlySpan<byte>(src, Len)));
            tokens[0] = 0;
            Assert.Equal(1u, ch.CheckCompletedCopies(0, 0, &status, 4));
            Assert.Equal((nuint)41, tokens[0]);
            Assert.False(ch.HasCompletions);
            Assert.Equal(0u, ch.CheckCompletedCopies(0, 0, &status, 4));
            Assert.Equal(0u, ch.InFlight);
        }
        finally
        {
            NativeMemory.Free(src);
            NativeMemory.Free(dst);
        }
    }

    [Theory]
    [InlineData(2048)]   // one segment in one buffer: the submit's inline case (a job without iters)
    [InlineData(300)]    // four mbuf segments: the slow path's segments (a job with iters)
    public void A_channel_smaller_than_the_burst_takes_what_fits_and_the_cpu_copies_the_rest(int segData)
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.NetMrgRxbuf), ringSize: 256, bufferSize: 2048);
        using var engine = new CopyEngine("hp-copy-small");
        using CopyEngineChannel ch = engine.CreateChannel(capacity: 4);
        Assert.Equal(AsyncError.None, lb.Device.AsyncChannelRegister(0, new AsyncFeatures(true, 64).Value, ch));
        SplitRingDriver rx = lb.Rx[0];
        const int Burst = 32, Size = 1000;
        Mbuf** p = stackalloc Mbuf*[Burst];
        for (int i = 0; i < Burst; i++) p[i] = HandMbufs.Make(Payload.Make(Size, (ulong)i), segData);
        var buf = new byte[2048];
        try
        {
            for (int i = 0; i < Burst; i++) Assert.True(rx.PostRx(2048));
            rx.Publish();
            Assert.Equal(Burst, lb.Device.SubmitEnqueueBurst(0, p, Burst));
            List<nint> back = AsyncPackets.PollBack(lb.Device, 0, Burst);
            for (int i = 0; i < Burst; i++)
            {
                Assert.True(back[i] == (nint)p[i], $"packet {i} handed back out of order");
                Assert.True(rx.TryReceive(buf, out RxInfo info));
                Assert.True(Payload.Matches(buf.AsSpan(0, info.Length), (ulong)i), $"packet {i} differs");
            }
            // The engine counts its packets after the batch (the channel's counter comes first): wait for it.
            AsyncPackets.WaitFor(() => engine.Packets == 4, "the engine's packet count");
            Assert.Equal((ulong)(Burst - 4), lb.Device.GetVring(0)!.Async!.CpuFallbacks);
            Assert.Equal(AsyncError.None, lb.Device.AsyncChannelUnregister(0, out uint freed));
            Assert.Equal(0u, freed);
            Assert.True(lb.GuardsIntact());
        }
        finally
        {
            for (int i = 0; i < Burst; i++) HandMbufs.Free(p[i]);
        }
    }
}
