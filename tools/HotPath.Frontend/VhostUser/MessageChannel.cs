using HotPath.Engine.Interop;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// One connected AF_UNIX stream socket carrying vhost-user messages, with a bound on every wait: receives poll()
/// first and the socket has SO_RCVTIMEO/SO_SNDTIMEO set, so a peer that stalls before or inside a message, or stops
/// reading, costs at most the timeout. Owns the socket and closes it on <see cref="Dispose"/>.
/// </summary>
public sealed class MessageChannel : IDisposable
{
    private int _fd;
    private readonly MessageReader _reader;

    /// <param name="fd">A connected stream socket; the channel takes ownership.</param>
    /// <param name="readsReplies">True on the frontend's main socket (every incoming message must carry REPLY);
    /// false on the backend-request channel, where the backend sends requests.</param>
    /// <param name="ioTimeout">How long a send or a reply may take before the channel counts as broken.</param>
    public MessageChannel(int fd, bool readsReplies, TimeSpan ioTimeout)
    {
        if (fd < 0) throw new ArgumentOutOfRangeException(nameof(fd));
        _fd = fd;
        _reader = new MessageReader(readsReplies);
        int rc = PollCalls.SetSocketTimeouts(fd, ioTimeout);
        if (rc < 0)
        {
            _reader.Dispose();
            throw new IOException($"setting socket timeouts failed: {LibC.StrError(-rc)}");
        }
    }

    public int Fd => _fd;
    public bool IsOpen => _fd >= 0;

    /// <summary>Sends a header exactly as given, the payload and the fds. Returns 0 or -errno.</summary>
    public int Send(in MessageHeader header, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default) =>
        _fd < 0 ? -LibC.EBADF : MessageWriter.SendParts(_fd, header, payload, fds);

    /// <summary>Sends a well-formed message (size = payload length). Returns 0 or -errno.</summary>
    public int Send(uint request, uint flags, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default) =>
        Send(new MessageHeader { Request = request, Flags = flags, Size = (uint)payload.Length }, payload, fds);

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for one whole message. Never blocks longer (plus one socket timeout
    /// if the peer stalls in the middle of a message). The result owns any fds that came with it.
    /// </summary>
    public ReceivedMessage Receive(TimeSpan timeout)
    {
        if (_fd < 0) return ReceivedMessage.Without(ReceiveStatus.Closed, errno: LibC.EBADF);
        long deadline = PollCalls.Deadline(timeout);
        while (true)
        {
            int ready = PollCalls.WaitReadable(_fd, PollCalls.MsLeft(deadline));
            if (ready == 0) return ReceivedMessage.Without(ReceiveStatus.TimedOut);
            if (ready < 0) return ReceivedMessage.Without(ReceiveStatus.Refused, FramingError.ReadFailed, -ready);

            switch (_reader.Read(_fd))
            {
                case ReadStatus.Message:
                    ReceivedMessage m = ReceivedMessage.Copy(_reader);
                    _reader.Next();
                    return m;
                case ReadStatus.Closed:
                    return ReceivedMessage.Without(ReceiveStatus.Closed);
                case ReadStatus.Error when _reader.Error == FramingError.ReadFailed && IsReset(_reader.Errno):
                    return ReceivedMessage.Without(ReceiveStatus.Closed, errno: _reader.Errno);
                case ReadStatus.Error:
                    return ReceivedMessage.Without(ReceiveStatus.Refused, _reader.Error, _reader.Errno);
                default:
                    // WouldBlock: SO_RCVTIMEO expired inside a message, or a spurious wakeup. The reader keeps the
                    // partial message; go round until the deadline.
                    if (PollCalls.MsLeft(deadline) == 0) return ReceivedMessage.Without(ReceiveStatus.TimedOut);
                    break;
            }
        }
    }

    private static bool IsReset(int errno) => errno is 104 /* ECONNRESET */ or 32 /* EPIPE */;

    /// <summary>Closes the socket; the peer sees an orderly close (EOF).</summary>
    public void Dispose()
    {
        if (_fd >= 0)
        {
            LibC.close(_fd);
            _fd = -1;
        }
        _reader.Dispose();
    }
}
