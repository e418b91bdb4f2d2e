using System.Diagnostics;
using HotPath.Engine.Interop;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Control;

/// <summary>
/// The backend's end of the backend-request channel (SET_BACKEND_REQ_FD): HotPath sends its own requests here
/// (CONFIG_CHANGE_MSG, ...) and, with NEED_REPLY, waits for the frontend's u64 answer. Requests come from
/// application threads (hp_vhost_backend_config_change) while the control thread may replace or close the channel:
/// <list type="bullet">
/// <item>each request works on its own dup of the socket, taken under a lock, so closing the session's fd never
/// pulls the descriptor out from under a request (nor lets a recycled fd number be written to);</item>
/// <item>requests are serialised, so two replies are never read by the wrong requester;</item>
/// <item>the socket is non-blocking and every wait is a poll() bounded by the caller's timeout: a frontend that never
/// reads, never answers, answers half a message or closes the channel costs at most the timeout and gives a
/// clear error (-ETIMEDOUT, -ECONNRESET, -EPIPE, -EPROTO), never a hang or a SIGPIPE.</item>
/// </list>
/// </summary>
public sealed class BackendRequestChannel : IDisposable
{
    private readonly object _fdLock = new();
    private readonly object _requestLock = new();
    private int _fd;

    /// <summary>Takes ownership of <paramref name="fd"/> and makes it non-blocking.</summary>
    public BackendRequestChannel(int fd)
    {
        _fd = fd;
        int flags = LibC.fcntl(fd, LibC.F_GETFL, 0);
        if (flags >= 0) LibC.fcntl(fd, LibC.F_SETFL, flags | LibC.O_NONBLOCK);
    }

    /// <summary>The socket (a takeover hands a copy on), or -1 once closed.</summary>
    internal int Fd
    {
        get { lock (_fdLock) return _fd; }
    }

    public bool IsOpen
    {
        get { lock (_fdLock) return _fd >= 0; }
    }

    /// <summary>
    /// Sends <paramref name="request"/> with <paramref name="payload"/>; with <paramref name="needReply"/> it carries
    /// NEED_REPLY and the frontend's u64 answer is awaited (0: success). Returns 0 or a negative errno, with the
    /// reason in <paramref name="error"/>.
    /// </summary>
    public int Send(BackendRequest request, ReadOnlySpan<byte> payload, bool needReply, TimeSpan timeout, out string error)
    {
        lock (_requestLock)
        {
            int fd, errno = LibC.ENOTCONN;
            lock (_fdLock)
            {
                fd = _fd < 0 ? -1 : LibC.dup(_fd);
                if (fd < 0 && _fd >= 0) errno = LibC.Errno;
            }
            if (fd < 0)
            {
                error = errno == LibC.ENOTCONN ? "the backend request channel is closed" : $"dup: {LibC.StrError(errno)}";
                return -errno;
            }
            try
            {
                if (needReply) DiscardLateReplies(fd);
                var deadline = Stopwatch.StartNew();
                uint flags = MessageHeader.Version | (needReply ? MessageHeader.FlagNeedReply : 0);
                int rc = SendAll(fd, (uint)request, flags, payload, timeout, deadline, out error);
                if (rc != 0 || !needReply) return rc;
                return AwaitReply(fd, (uint)request, timeout, deadline, out error);
            }
            finally { LibC.close(fd); }
        }
    }

    private static int SendAll(int fd, uint request, uint flags, ReadOnlySpan<byte> payload, TimeSpan timeout,
        Stopwatch elapsed, out string error)
    {
        // Wait until the whole message fits, so that sendmsg never stops half-way on a full buffer.
        while (true)
        {
            int rc = MessageWriter.Send(fd, request, flags, payload);
            if (rc == 0)
            {
                error = "";
                return 0;
            }
            if (rc != -LibC.EAGAIN)
            {
                error = rc == -LibC.EPIPE || rc == -LibC.ECONNRESET
                    ? "the frontend closed the backend request channel"
                    : $"sending failed: {LibC.StrError(-rc)}";
                return rc;
            }
            int w = Wait(fd, SocketCalls.POLLOUT, timeout, elapsed);
            if (w <= 0)
            {
                error = w == 0 ? $"the frontend did not read the channel within {timeout.TotalSeconds:0.###} s" : $"poll: {LibC.StrError(-w)}";
                return w == 0 ? -LibC.ETIMEDOUT : w;
            }
        }
    }

    private static int AwaitReply(int fd, uint request, TimeSpan timeout, Stopwatch elapsed, out string error)
    {
        using var reader = new MessageReader(readsReplies: true);
        while (true)
        {
            switch (reader.Read(fd))
            {
                case ReadStatus.Message:
                    return CheckReply(reader, request, out error);
                case ReadStatus.Closed:
                    error = "the frontend closed the backend request channel instead of replying";
                    return -LibC.ECONNRESET;
                case ReadStatus.Error:
                    error = $"malformed reply: {reader.Error.Describe()}";
                    return -LibC.EPROTO;
            }
            int w = Wait(fd, SocketCalls.POLLIN, timeout, elapsed);
            if (w <= 0)
            {
                error = w == 0 ? $"no reply from the frontend within {timeout.TotalSeconds:0.###} s" : $"poll: {LibC.StrError(-w)}";
                return w == 0 ? -LibC.ETIMEDOUT : w;
            }
        }
    }

    /// <summary>
    /// Drops whole messages already waiting on the channel: replies that came after an earlier request gave up
    /// waiting, which would otherwise be taken for the answer to this one.
    /// </summary>
    private static void DiscardLateReplies(int fd)
    {
        using var reader = new MessageReader(readsReplies: true);
        while (reader.Read(fd) == ReadStatus.Message) reader.Next();
    }

    private static int CheckReply(MessageReader reply, uint request, out string error)
    {
        if (reply.Header.Request != request)
        {
            error = $"the reply is for request {reply.Header.Request}, not {request}";
            return -LibC.EPROTO;
        }
        if (reply.PayloadLength != sizeof(ulong) || reply.FdCount != 0)
        {
            error = $"the reply has {reply.PayloadLength} payload bytes and {reply.FdCount} fds; a u64 and none were expected";
            return -LibC.EPROTO;
        }
        ulong value = reply.PayloadAs<ulong>();
        error = value == 0 ? "" : $"the frontend answered {value} (failure)";
        return value == 0 ? 0 : -LibC.EIO;
    }

    /// <summary>poll() for <paramref name="events"/> until the deadline: 1 ready, 0 timed out, -errno.</summary>
    private static unsafe int Wait(int fd, short events, TimeSpan timeout, Stopwatch elapsed)
    {
        while (true)
        {
            long left = (long)(timeout - elapsed.Elapsed).TotalMilliseconds;
            if (left <= 0) return 0;
            var p = new PollFd { Fd = fd, Events = events };
            int n = SocketCalls.poll(&p, 1, (int)Math.Min(left, int.MaxValue));
            if (n < 0)
            {
                int e = LibC.Errno;
                if (e == LibC.EINTR) continue;
                return -e;
            }
            // Readable, writable, or hung up / in error: the next read or write says which.
            if (n > 0) return 1;
        }
    }

    /// <summary>Closes the channel (a request under way keeps its own dup until it ends).</summary>
    public void Dispose()
    {
        lock (_fdLock)
        {
            if (_fd >= 0) LibC.close(_fd);
            _fd = -1;
        }
    }
}
