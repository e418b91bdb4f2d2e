using System.Diagnostics;
using HotPath.Engine.Interop;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;
using HotPath.Tests.Infrastructure;
using static HotPath.Protocol.Wire.FrontendRequest;

namespace HotPath.Tests.Frontend;

/// <summary>
/// A backend that answers wrongly, late or not at all must cost a test one reply timeout and an exception naming
/// the request, never a hang; the connection is then broken for good, except after a REPLY_ACK refusal.
/// </summary>
[Collection(SerialCollection.Name)]   // counts process-wide open fds
public class FrontendReplyCheckTests
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromMilliseconds(300);

    /// <summary>A frontend whose backend hands <paramref name="request"/> to <paramref name="answer"/> instead of replying.</summary>
    private static (RecordingBackend, VhostUserFrontend) With(FrontendRequest request, Action<RecordingBackend.Recorded, int> answer)
    {
        var backend = RecordingBackend.Pair(out int fd, b => b.Intercept = (m, sock) =>
        {
            if (m.Request != request) return false;
            answer(m, sock);
            return true;
        });
        return (backend, VhostUserFrontend.FromConnectedSocket(fd, "faulty backend", ReplyTimeout));
    }

    private static VhostUserException Fails(FrontendRequest request, Action<RecordingBackend.Recorded, int> answer,
        VhostUserFailure failure, string detail, Action<VhostUserFrontend>? call = null)
    {
        (RecordingBackend backend, VhostUserFrontend fe) = With(request, answer);
        using (backend)
        using (fe)
        {
            var e = Assert.Throws<VhostUserException>(() => (call ?? (f => f.GetFeatures()))(fe));
            Assert.Equal(failure, e.Failure);
            Assert.Equal(request, e.Request);
            Assert.Contains(RequestRules.NameOf(request), e.Message);
            Assert.Contains(detail, e.Message);
            Assert.True(fe.IsBroken);
            var after = Assert.Throws<VhostUserException>(() => fe.GetFeatures());
            Assert.Equal(VhostUserFailure.Broken, after.Failure);
            return e;
        }
    }

    private static void Send(int sock, uint request, uint flags, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default) =>
        Assert.Equal(0, MessageWriter.Send(sock, request, flags, payload, fds));

    private const uint Reply = MessageHeader.Version | MessageHeader.FlagReply;

    [Fact]
    public void No_reply_is_a_timeout_after_the_reply_timeout()
    {
        var clock = Stopwatch.StartNew();
        Fails(GetFeatures, (_, _) => { }, VhostUserFailure.Timeout, "no reply from faulty backend within 0.3 s");
        Assert.InRange(clock.Elapsed, ReplyTimeout - TimeSpan.FromMilliseconds(20), ReplyTimeout + TimeSpan.FromSeconds(30));
    }

    [Fact]
    public unsafe void A_reply_cut_short_is_a_timeout_not_a_hang()
    {
        var clock = Stopwatch.StartNew();
        Fails(GetFeatures, (m, sock) =>
        {
            var h = new MessageHeader { Request = (uint)GetFeatures, Flags = Reply, Size = 8 };
            Assert.Equal(12, (int)LibC.write(sock, &h, 12));
            uint half = 1;
            Assert.Equal(4, (int)LibC.write(sock, &half, 4));   // and nothing more
        }, VhostUserFailure.Timeout, "no reply");
        Assert.InRange(clock.Elapsed, ReplyTimeout - TimeSpan.FromMilliseconds(20), 2 * ReplyTimeout + TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void A_close_instead_of_a_reply_is_reported_as_closed()
    {
        Fails(GetFeatures, (_, sock) => SocketCalls.shutdown(sock, SocketCalls.SHUT_RDWR), VhostUserFailure.Closed,
            "closed the connection");
    }

    [Fact]
    public void Replies_with_the_wrong_id_size_or_flags_are_malformed()
    {
        Fails(GetFeatures, (_, s) => Send(s, (uint)GetProtocolFeatures, Reply, FrontendPayloads.U64(1)),
            VhostUserFailure.MalformedReply, "is for GET_PROTOCOL_FEATURES");
        Fails(GetFeatures, (_, s) => Send(s, (uint)GetFeatures, Reply, new byte[4]),
            VhostUserFailure.MalformedReply, "has 4 payload bytes; a u64 reply is 8");
        Fails(GetFeatures, (_, s) => Send(s, (uint)GetFeatures, MessageHeader.Version, FrontendPayloads.U64(1)),
            VhostUserFailure.MalformedReply, FramingError.MissingReplyFlag.Describe());
        Fails(GetFeatures, (_, s) => Send(s, (uint)GetFeatures, Reply | MessageHeader.FlagNeedReply, FrontendPayloads.U64(1)),
            VhostUserFailure.MalformedReply, FramingError.UnknownFlags.Describe());
        Fails(GetFeatures, (_, s) => Send(s, (uint)GetFeatures, 2 | MessageHeader.FlagReply, FrontendPayloads.U64(1)),
            VhostUserFailure.MalformedReply, FramingError.BadVersion.Describe());
    }

    [Fact]
    public void A_vring_base_for_another_vring_is_malformed()
    {
        Fails(GetVringBase, (m, s) => Send(s, (uint)GetVringBase, Reply, FrontendPayloads.VringState(9, 5)),
            VhostUserFailure.MalformedReply, "answered for vring 9, asked about vring 1", fe => fe.GetVringBase(1));
    }

    [Fact]
    public void A_reply_with_unexpected_fds_is_malformed_and_the_fds_are_closed()
    {
        int before = FrontendRig.OpenFds();
        Fails(GetFeatures, (_, s) =>
        {
            int[] fds = HostileFds.EventFds(3);
            Send(s, (uint)GetFeatures, Reply, FrontendPayloads.U64(1), fds);
            foreach (int fd in fds) LibC.close(fd);
        }, VhostUserFailure.MalformedReply, "carried 3 fd(s), expected 0");
        Assert.Equal(before, FrontendRig.OpenFds());
    }

    [Fact]
    public void A_nonzero_ack_is_a_nack_that_leaves_the_connection_usable()
    {
        (RecordingBackend backend, VhostUserFrontend fe) = With(SetVringNum, (m, s) =>
        {
            if (m.NeedReply) RecordingBackend.ReplyU64(s, m, 22);
        });
        using (backend)
        using (fe)
        {
            fe.Negotiate(1, packed: false);
            var e = Assert.Throws<VhostUserException>(() => fe.SetVringNum(0, 256));
            Assert.Equal(VhostUserFailure.Nack, e.Failure);
            Assert.Contains("SET_VRING_NUM", e.Message);
            Assert.Contains("REPLY_ACK returned 22", e.Message);
            Assert.False(fe.IsBroken);
            fe.SetVringBase(0, 0);
            Assert.Equal(fe.BackendFeatures, fe.GetFeatures());

            // The same refusal without asking for acks goes unnoticed by design: that is what REPLY_ACK is for.
            fe.RequestAcks = false;
            int sent = backend.Messages.Count;
            fe.SetVringNum(0, 256);
            Assert.True(backend.WaitForMessages(sent + 1, TimeSpan.FromSeconds(20)));
            Assert.False(backend.Messages[^1].NeedReply);
        }
    }

    [Fact]
    public void Set_log_base_accepts_an_empty_or_zero_reply_and_reports_a_nonzero_one()
    {
        foreach ((byte[] reply, bool ok) in new[] { (Array.Empty<byte>(), true), (FrontendPayloads.U64(0), true), (FrontendPayloads.U64(1), false) })
        {
            (RecordingBackend backend, VhostUserFrontend fe) = With(SetLogBase, (m, s) => Send(s, (uint)SetLogBase, Reply, reply));
            using (backend)
            using (fe)
            {
                fe.Negotiate(1, packed: false);
                int log = HostileFds.Memfd(1 << 20);
                try
                {
                    if (ok) fe.SetLogBase(log, 4096);
                    else Assert.Equal(VhostUserFailure.Nack, Assert.Throws<VhostUserException>(() => fe.SetLogBase(log, 4096)).Failure);
                }
                finally
                {
                    LibC.close(log);
                }
            }
        }
    }
}
