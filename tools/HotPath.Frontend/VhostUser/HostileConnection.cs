using System.Runtime.InteropServices;
using HotPath.Engine.Interop;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// The malformed-message mode: sends <see cref="HostileMessage"/>s byte for byte (lying headers, wrong fds, half
/// messages) and observes what the backend does: reply, close, silence or garbage, each within a timeout. Either a
/// connection of its own (<see cref="Connect"/>) or a view on a <see cref="VhostUserFrontend"/>'s socket
/// (<see cref="VhostUserFrontend.Hostile"/>), so a test can negotiate properly and then misbehave.
/// </summary>
public sealed class HostileConnection : IDisposable
{
    private readonly MessageChannel _channel;
    private readonly bool _ownsChannel;

    internal HostileConnection(MessageChannel channel, bool ownsChannel, string peer)
    {
        _channel = channel;
        _ownsChannel = ownsChannel;
        Peer = peer;
    }

    public string Peer { get; }

    public int Socket => _channel.Fd;

    /// <summary>Connects to a backend's socket with no vhost-user exchange at all.</summary>
    public static HostileConnection Connect(string socketPath, TimeSpan connectTimeout, TimeSpan? ioTimeout = null) =>
        FromConnectedSocket(UnixSockets.Connect(socketPath, connectTimeout), socketPath, ioTimeout);

    /// <summary>Wraps a connected socket, taking ownership.</summary>
    public static HostileConnection FromConnectedSocket(int fd, string peer, TimeSpan? ioTimeout = null)
    {
        try
        {
            return new HostileConnection(new MessageChannel(fd, readsReplies: true, ioTimeout ?? VhostUserFrontend.DefaultReplyTimeout),
                ownsChannel: true, peer);
        }
        catch
        {
            LibC.close(fd);
            throw;
        }
    }

    /// <summary>Sends the message exactly: its header as is, its payload bytes, its fds. Returns 0 or -errno.</summary>
    public int Send(HostileMessage message) => _channel.Send(message.Header, message.Payload, message.Fds);

    /// <summary>
    /// Sends arbitrary bytes. With 12 or more bytes the first 12 go as a header and <paramref name="fds"/> ride
    /// along; shorter runs (a header cut short) are written without fds. Returns 0 or -errno.
    /// </summary>
    public unsafe int SendRaw(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> fds = default)
    {
        if (bytes.Length >= MessageHeader.WireSize)
            return _channel.Send(MemoryMarshal.Read<MessageHeader>(bytes), bytes[MessageHeader.WireSize..], fds);
        if (!fds.IsEmpty) throw new ArgumentException("fds need at least a 12-byte header to travel with", nameof(fds));
        fixed (byte* p = bytes)
        {
            nint n = LibC.write(_channel.Fd, p, (nuint)bytes.Length);
            return n == bytes.Length ? 0 : n < 0 ? -LibC.Errno : -LibC.EIO;
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the backend's reaction to what was sent.</summary>
    public HostileOutcome Observe(TimeSpan timeout)
    {
        ReceivedMessage r = _channel.Receive(timeout);
        HostileResult result = r.Status switch
        {
            ReceiveStatus.Message => HostileResult.Replied,
            ReceiveStatus.Closed => HostileResult.Closed,
            ReceiveStatus.TimedOut => HostileResult.NoReply,
            _ => HostileResult.MalformedReply,
        };
        string detail = r.Describe();
        if (result is HostileResult.Closed or HostileResult.NoReply)
        {
            r.Dispose();
            return new HostileOutcome(result, null, detail);
        }
        return new HostileOutcome(result, r, detail);
    }

    /// <summary>Sends <paramref name="message"/> and observes. A send the kernel refuses because the peer is gone counts as Closed.</summary>
    public HostileOutcome SendAndObserve(HostileMessage message, TimeSpan timeout)
    {
        int rc = Send(message);
        if (rc < 0)
        {
            return rc is -32 or -104 // EPIPE, ECONNRESET
                ? new HostileOutcome(HostileResult.Closed, null, $"send failed: {LibC.StrError(-rc)}")
                : throw new IOException($"sending {message} to {Peer} failed: {LibC.StrError(-rc)}");
        }
        return Observe(timeout);
    }

    /// <summary>
    /// The peer-closes-mid-message case: sends the header (whose size promises the whole payload) and only the first
    /// <paramref name="payloadBytes"/> payload bytes, then closes the socket. The connection is gone afterwards.
    /// </summary>
    public int SendThenClose(HostileMessage message, int payloadBytes)
    {
        int n = Math.Clamp(payloadBytes, 0, message.Payload.Length);
        int rc = _channel.Send(message.Header, message.Payload.AsSpan(0, n), message.Fds);
        _channel.Dispose();
        return rc;
    }

    /// <summary>
    /// Checks the backend still serves this connection: a GET_FEATURES must come back as a u64 reply.
    /// <paramref name="detail"/> says what happened instead when it does not.
    /// </summary>
    public bool IsAlive(TimeSpan timeout, out string detail)
    {
        using HostileMessage probe = HostileMessage.Honest("GET_FEATURES probe", 0, FrontendRequest.GetFeatures, Array.Empty<byte>());
        using HostileOutcome o = SendAndObserve(probe, timeout);
        detail = o.ToString();
        return o.Result == HostileResult.Replied && o.Reply!.Header.Request == (uint)FrontendRequest.GetFeatures
            && o.Reply.Payload.Length == 8;
    }

    /// <summary>
    /// SECURITY.md case 10: sends <paramref name="count"/> messages made by <paramref name="make"/> (each with fresh
    /// fds), observing each for up to <paramref name="observeEach"/> when it asks for a reply, and counts the
    /// outcomes. Stops early when the backend closes.
    /// </summary>
    public Dictionary<HostileResult, int> Repeat(Func<HostileMessage> make, int count, TimeSpan observeEach)
    {
        var tally = new Dictionary<HostileResult, int>();
        for (int i = 0; i < count; i++)
        {
            using HostileMessage m = make();
            HostileResult r;
            if (m.Header.NeedReply || RequestRules.IsKnown(m.Request) && RequestRules.For(m.Request).Reply != ReplyKind.None)
            {
                using HostileOutcome o = SendAndObserve(m, observeEach);
                r = o.Result;
            }
            else
            {
                int rc = Send(m);
                r = rc == 0 ? HostileResult.NoReply : HostileResult.Closed;
            }
            tally[r] = tally.GetValueOrDefault(r) + 1;
            if (r == HostileResult.Closed) break;
        }
        return tally;
    }

    public void Dispose()
    {
        if (_ownsChannel) _channel.Dispose();
    }
}
