using HotPath.Engine.Interop;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Protocol;

/// <summary>The transport's door checks over a real socketpair (SECURITY.md cases 1 and 2).</summary>
[Collection(SerialCollection.Name)]
public unsafe class FramingTests
{
    private static (int a, int b) Pair()
    {
        int* sv = stackalloc int[2];
        Assert.Equal(0, SocketCalls.socketpair(SocketCalls.AF_UNIX, SocketCalls.SOCK_STREAM | SocketCalls.SOCK_CLOEXEC, 0, sv));
        int flags = LibC.fcntl(sv[1], LibC.F_GETFL, 0);
        LibC.fcntl(sv[1], LibC.F_SETFL, flags | LibC.O_NONBLOCK);
        return (sv[0], sv[1]);
    }

    private static int NewEventFd() => LibC.eventfd(0, LibC.EFD_CLOEXEC);

    [Fact]
    public void A_message_and_its_fds_arrive_whole()
    {
        var (a, b) = Pair();
        using var reader = new MessageReader();
        int efd = NewEventFd();
        ulong payload = 0x1_0000_0003;   // index 3 with NOFD clear
        Assert.Equal(0, MessageWriter.SendU64(a, (uint)FrontendRequest.SetVringCall, MessageHeader.Version, payload));
        Assert.Equal(0, MessageWriter.Send(a, (uint)FrontendRequest.SetVringKick, MessageHeader.Version,
            new ReadOnlySpan<byte>(&payload, 8), new[] { efd }));
        Assert.Equal(ReadStatus.Message, reader.Read(b));
        Assert.Equal(FrontendRequest.SetVringCall, reader.Request);
        Assert.Equal(0, reader.FdCount);
        reader.Next();
        Assert.Equal(ReadStatus.Message, reader.Read(b));
        Assert.Equal(FrontendRequest.SetVringKick, reader.Request);
        Assert.Equal(1, reader.FdCount);
        int got = reader.TakeFd(0);
        Assert.True(got >= 0 && got != efd);
        Assert.True(LibC.EventFdSignal(got));       // the received fd is the same eventfd
        Assert.Equal(1UL, LibC.EventFdDrain(efd));
        reader.Next();
        Assert.Equal(ReadStatus.WouldBlock, reader.Read(b));
        foreach (int fd in new[] { a, b, efd, got }) LibC.close(fd);
    }

    [Theory]
    [InlineData(0u, FramingError.BadVersion)]
    [InlineData(2u, FramingError.BadVersion)]
    [InlineData(1u | MessageHeader.FlagReply, FramingError.ReplyFlagOnRequest)]
    [InlineData(1u | 0x100u, FramingError.UnknownFlags)]
    public void Bad_header_flags_are_refused_at_once(uint flags, FramingError expected)
    {
        var (a, b) = Pair();
        using var reader = new MessageReader();
        var h = new MessageHeader { Request = 1, Flags = flags, Size = 0 };
        Assert.Equal(0, MessageWriter.SendParts(a, h, default, default));
        Assert.Equal(ReadStatus.Error, reader.Read(b));
        Assert.Equal(expected, reader.Error);
        LibC.close(a);
        LibC.close(b);
    }

    [Fact]
    public void Size_larger_than_any_payload_is_refused_before_reading_it()
    {
        var (a, b) = Pair();
        using var reader = new MessageReader();
        var h = new MessageHeader { Request = 5, Flags = 1, Size = 0x10_0000 };
        Assert.Equal(0, MessageWriter.SendParts(a, h, default, default));
        Assert.Equal(ReadStatus.Error, reader.Read(b));
        Assert.Equal(FramingError.PayloadTooLarge, reader.Error);
        LibC.close(a);
        LibC.close(b);
    }

    [Fact]
    public void Peer_closing_mid_message_is_an_error_and_its_fds_are_closed()
    {
        int before = ProcessResources.OpenFds;
        var (a, b) = Pair();
        var reader = new MessageReader();
        int efd = NewEventFd();
        var h = new MessageHeader { Request = 2, Flags = 1, Size = 8 };
        Assert.Equal(0, MessageWriter.SendParts(a, h, new byte[3], new[] { efd }));
        LibC.close(efd);
        LibC.close(a);
        Assert.Equal(ReadStatus.Error, reader.Read(b));
        Assert.Equal(FramingError.ClosedMidMessage, reader.Error);
        reader.Dispose();
        LibC.close(b);
        Assert.Equal(before, ProcessResources.OpenFds);
    }

    [Fact]
    public void More_fds_than_the_limit_is_refused_and_nothing_leaks()
    {
        int before = ProcessResources.OpenFds;
        var (a, b) = Pair();
        var reader = new MessageReader();
        int[] fds = Enumerable.Range(0, MessageLimits.MaxFds + 8).Select(_ => NewEventFd()).ToArray();
        var h = new MessageHeader { Request = 5, Flags = 1, Size = 8 };
        Assert.Equal(0, MessageWriter.SendParts(a, h, new byte[8], fds));
        foreach (int fd in fds) LibC.close(fd);
        Assert.Equal(ReadStatus.Error, reader.Read(b));
        Assert.Equal(FramingError.TooManyFds, reader.Error);
        reader.Dispose();
        LibC.close(a);
        LibC.close(b);
        Assert.Equal(before, ProcessResources.OpenFds);
    }

    [Fact]
    public void A_header_arriving_in_pieces_is_assembled()
    {
        var (a, b) = Pair();
        using var reader = new MessageReader();
        var h = new MessageHeader { Request = 2, Flags = 1, Size = 8 };
        byte[] bytes = new byte[20];
        fixed (byte* p = bytes) *(MessageHeader*)p = h;
        bytes[12] = 0x42;
        fixed (byte* p = bytes)
        {
            Assert.Equal(5, (int)LibC.write(a, p, 5));
            Assert.Equal(ReadStatus.WouldBlock, reader.Read(b));
            Assert.Equal(10, (int)LibC.write(a, p + 5, 10));
            Assert.Equal(ReadStatus.WouldBlock, reader.Read(b));
            Assert.Equal(5, (int)LibC.write(a, p + 15, 5));
        }
        Assert.Equal(ReadStatus.Message, reader.Read(b));
        Assert.Equal(0x42UL, reader.PayloadAs<ulong>());
        LibC.close(a);
        LibC.close(b);
    }
}
