using HotPath.Engine.Interop;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>A request the backend sent on the backend-request channel. Owns the fds that came with it.</summary>
public sealed class BackendMessage : IDisposable
{
    internal BackendMessage(ReceivedMessage message) => Message = message;

    public ReceivedMessage Message { get; }
    public BackendRequest Request => (BackendRequest)Message.Header.Request;
    public string Name => RequestRules.NameOf(Request);
    public bool NeedReply => Message.Header.NeedReply;
    public byte[] Payload => Message.Payload;
    public int FdCount => Message.FdCount;

    public void Dispose() => Message.Dispose();
}

/// <summary>
/// The frontend's end of the socketpair sent with SET_BACKEND_REQ_FD. The backend sends requests here
/// (CONFIG_CHANGE_MSG, VRING_HOST_NOTIFIER_MSG, IOTLB_MSG, ...); when one carries NEED_REPLY the frontend answers
/// with a u64 (0 = handled), as QEMU does. Owns the socket.
/// </summary>
public sealed class BackendChannel : IDisposable
{
    private readonly MessageChannel _channel;
    private readonly string _peer;

    public BackendChannel(int fd, TimeSpan ioTimeout, string peer)
    {
        _peer = peer;
        try
        {
            _channel = new MessageChannel(fd, readsReplies: false, ioTimeout);
        }
        catch
        {
            LibC.close(fd);
            throw;
        }
    }

    public int Fd => _channel.Fd;

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for the backend's next request; null when none came. Throws
    /// <see cref="IOException"/> when the backend closed the channel or sent bytes that are not a request.
    /// </summary>
    public BackendMessage? Read(TimeSpan timeout)
    {
        ReceivedMessage m = _channel.Receive(timeout);
        return m.Status switch
        {
            ReceiveStatus.Message => new BackendMessage(m),
            ReceiveStatus.TimedOut => null,
            _ => throw new IOException($"backend-request channel of {_peer}: {m.Describe()}"),
        };
    }

    /// <summary>Replies to <paramref name="request"/> with a u64 and the REPLY flag.</summary>
    public void Reply(BackendMessage request, ulong value) => Reply(request, FrontendPayloads.U64(value));

    /// <summary>Replies to <paramref name="request"/> with an arbitrary payload and fds (requests with replies of their own).</summary>
    public void Reply(BackendMessage request, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        int rc = _channel.Send(request.Message.Header.Request, MessageHeader.Version | MessageHeader.FlagReply, payload, fds);
        if (rc < 0)
            throw new IOException($"replying to {request.Name} on the backend-request channel of {_peer} failed: {LibC.StrError(-rc)}");
    }

    /// <summary>
    /// Reads one request (waiting up to <paramref name="timeout"/>), lets <paramref name="handler"/> act on it and,
    /// when the backend asked for a reply, sends the handler's result (0 = success). Returns the request (the caller
    /// disposes it), or null when none came.
    /// </summary>
    public BackendMessage? ServeOne(TimeSpan timeout, Func<BackendMessage, ulong> handler)
    {
        BackendMessage? m = Read(timeout);
        if (m == null) return null;
        try
        {
            ulong result = handler(m);
            if (m.NeedReply) Reply(m, result);
            return m;
        }
        catch
        {
            m.Dispose();
            throw;
        }
    }

    public void Dispose() => _channel.Dispose();
}
