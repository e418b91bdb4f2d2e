using System.Runtime.InteropServices;
using HotPath.Engine.Interop;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Transport;

public enum ReadStatus
{
    /// <summary>A whole message (header, payload, fds) is ready; see <see cref="MessageReader.Header"/>.</summary>
    Message,
    /// <summary>A non-blocking socket has no more bytes for now.</summary>
    WouldBlock,
    /// <summary>The peer closed the connection between two messages.</summary>
    Closed,
    /// <summary>The bytes were refused; see <see cref="MessageReader.Error"/>. The connection must be closed.</summary>
    Error,
}

/// <summary>
/// Reads vhost-user messages from a stream socket, incrementally, with their SCM_RIGHTS fds. It reads the
/// 12-byte header, checks it at once (version, flags, size bound), then reads exactly <c>size</c> payload bytes,
/// so a peer that stalls mid-message never blocks the control-plane thread and never makes it read into the
/// next message. Every fd it received and nobody claimed is closed by <see cref="Next"/> and <see cref="Dispose"/>.
/// </summary>
public sealed unsafe class MessageReader : IDisposable
{
    private byte* _buf;
    private int _have;
    private readonly int[] _fds = new int[MessageLimits.MaxFds];
    private int _fdCount;
    private readonly bool _readsReplies;

    /// <param name="readsReplies">True on the frontend side: messages must carry the REPLY flag.</param>
    public MessageReader(bool readsReplies = false)
    {
        _readsReplies = readsReplies;
        _buf = (byte*)NativeMemory.AllocZeroed(MessageHeader.WireSize + MessageLimits.MaxPayload);
    }

    public FramingError Error { get; private set; }

    /// <summary>errno when <see cref="Error"/> is <see cref="FramingError.ReadFailed"/>.</summary>
    public int Errno { get; private set; }

    public ref readonly MessageHeader Header => ref *(MessageHeader*)_buf;

    public FrontendRequest Request => (FrontendRequest)Header.Request;

    /// <summary>The payload bytes of the current message (exactly header.size bytes).</summary>
    public Span<byte> Payload => new(_buf + MessageHeader.WireSize, PayloadLength);

    /// <summary>Header and payload as one buffer (what per-message hooks see); header.size may be rewritten.</summary>
    public byte* RawMessage => _buf;

    public int PayloadLength => _have <= MessageHeader.WireSize ? 0 : _have - MessageHeader.WireSize;

    /// <summary>Fds that came with the current message; slots already claimed read -1.</summary>
    public ReadOnlySpan<int> Fds => _fds.AsSpan(0, _fdCount);

    public int FdCount => _fdCount;

    /// <summary>Takes ownership of fd number <paramref name="i"/> of the message; returns -1 if absent.</summary>
    public int TakeFd(int i)
    {
        if ((uint)i >= (uint)_fdCount) return -1;
        int fd = _fds[i];
        _fds[i] = -1;
        return fd;
    }

    /// <summary>Payload as a struct (caller has checked the size).</summary>
    public ref T PayloadAs<T>() where T : unmanaged => ref *(T*)(_buf + MessageHeader.WireSize);

    /// <summary>
    /// Reads from <paramref name="socket"/> until one message is complete, the socket would block, the peer closed,
    /// or the bytes were refused. Call <see cref="Next"/> after handling a message.
    /// </summary>
    public ReadStatus Read(int socket)
    {
        if (Error != FramingError.None) return ReadStatus.Error;
        while (true)
        {
            int want = _have < MessageHeader.WireSize
                ? MessageHeader.WireSize - _have
                : MessageHeader.WireSize + (int)Header.Size - _have;
            if (_have >= MessageHeader.WireSize && want == 0) return ReadStatus.Message;

            nint n = Receive(socket, _buf + _have, want, out bool truncated);
            if (n < 0)
            {
                int e = LibC.Errno;
                if (e == LibC.EINTR) continue;
                if (e == LibC.EAGAIN) return ReadStatus.WouldBlock;
                Errno = e;
                return Fail(FramingError.ReadFailed);
            }
            if (truncated) return Fail(FramingError.TooManyFds);
            if (n == 0)
            {
                if (_have == 0 && _fdCount == 0) return ReadStatus.Closed;
                return Fail(_have == 0 ? FramingError.FdsWithoutData : FramingError.ClosedMidMessage);
            }
            _have += (int)n;
            if (_have == MessageHeader.WireSize)
            {
                FramingError e = CheckHeader(Header);
                if (e != FramingError.None) return Fail(e);
                if (Header.Size == 0) return ReadStatus.Message;
            }
        }
    }

    private FramingError CheckHeader(in MessageHeader h)
    {
        if (h.VersionBits != MessageHeader.Version) return FramingError.BadVersion;
        if (_readsReplies)
        {
            if (!h.IsReply) return FramingError.MissingReplyFlag;
            if ((h.Flags & ~(MessageHeader.VersionMask | MessageHeader.FlagReply)) != 0) return FramingError.UnknownFlags;
        }
        else
        {
            if (h.IsReply) return FramingError.ReplyFlagOnRequest;
            if ((h.Flags & ~MessageHeader.KnownRequestFlags) != 0) return FramingError.UnknownFlags;
        }
        if (h.Size > MessageLimits.MaxPayload) return FramingError.PayloadTooLarge;
        return FramingError.None;
    }

    private nint Receive(int socket, byte* dst, int len, out bool truncated)
    {
        const int controlBytes = CmsgHdr.HeaderSize + MessageLimits.MaxFds * sizeof(int);
        byte* control = stackalloc byte[controlBytes];
        IoVec iov = new() { Base = dst, Len = (nuint)len };
        MsgHdr msg = new() { Iov = &iov, IovLen = 1, Control = control, ControlLen = controlBytes };
        nint n = SocketCalls.recvmsg(socket, &msg, SocketCalls.MSG_CMSG_CLOEXEC);
        truncated = false;
        if (n < 0) return n;
        // Collect every fd first, so that even a refused message leaves nothing open.
        for (byte* c = control; msg.ControlLen >= (nuint)CmsgHdr.HeaderSize && c + CmsgHdr.HeaderSize <= control + (int)msg.ControlLen;)
        {
            CmsgHdr* h = (CmsgHdr*)c;
            if (h->Len < (nuint)CmsgHdr.HeaderSize || c + (int)h->Len > control + (int)msg.ControlLen) break;
            if (h->Level == SocketCalls.SOL_SOCKET && h->Type == SocketCalls.SCM_RIGHTS)
            {
                int count = ((int)h->Len - CmsgHdr.HeaderSize) / sizeof(int);
                int* fds = (int*)(c + CmsgHdr.HeaderSize);
                for (int i = 0; i < count; i++)
                {
                    if (_fdCount < _fds.Length) _fds[_fdCount++] = fds[i];
                    else { LibC.close(fds[i]); truncated = true; }
                }
            }
            c += CmsgHdr.Space((int)h->Len - CmsgHdr.HeaderSize);
        }
        if ((msg.Flags & SocketCalls.MSG_CTRUNC) != 0) truncated = true;
        return n;
    }

    private ReadStatus Fail(FramingError e)
    {
        Error = e;
        CloseUnclaimedFds();
        return ReadStatus.Error;
    }

    // ---- takeover: a reader's state moves to another process ----

    /// <summary>Bytes of a message read only in part (the fds that came with them are <see cref="Fds"/>).</summary>
    public byte[] PartialBytes() => new ReadOnlySpan<byte>(_buf, _have).ToArray();

    /// <summary>
    /// Starts from a part of a message another process read (<see cref="PartialBytes"/>): the next
    /// <see cref="Read"/> continues where it stopped. Owns <paramref name="fds"/> from now on.
    /// </summary>
    public bool LoadPartial(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> fds) => Load(bytes, fds, whole: false);

    /// <summary>
    /// A whole message that did not come from the socket (a takeover replays the state of the device it took
    /// over): header, payload and fds as if just read. Owns <paramref name="fds"/> from now on; false (fds closed)
    /// when it is not one well-formed request.
    /// </summary>
    public bool LoadMessage(ReadOnlySpan<byte> message, ReadOnlySpan<int> fds) => Load(message, fds, whole: true);

    private bool Load(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> fds, bool whole)
    {
        CloseUnclaimedFds();
        _have = 0;
        bool ok = bytes.Length <= MessageHeader.WireSize + MessageLimits.MaxPayload && fds.Length <= _fds.Length;
        if (ok && bytes.Length >= MessageHeader.WireSize)
        {
            MessageHeader h = System.Runtime.InteropServices.MemoryMarshal.Read<MessageHeader>(bytes);
            ok = CheckHeader(h) == FramingError.None && bytes.Length <= MessageHeader.WireSize + (int)h.Size &&
                 (!whole || bytes.Length == MessageHeader.WireSize + (int)h.Size);
        }
        else if (whole) ok = false;
        if (!ok)
        {
            foreach (int fd in fds) if (fd >= 0) LibC.close(fd);
            return false;
        }
        bytes.CopyTo(new Span<byte>(_buf, bytes.Length));
        _have = bytes.Length;
        fds.CopyTo(_fds);
        _fdCount = fds.Length;
        return true;
    }

    /// <summary>Closes the fds nobody took and gets ready for the next message.</summary>
    public void Next()
    {
        CloseUnclaimedFds();
        _have = 0;
    }

    /// <summary>Closes every fd of the current message that no handler claimed.</summary>
    public void CloseUnclaimedFds()
    {
        for (int i = 0; i < _fdCount; i++)
            if (_fds[i] >= 0) LibC.close(_fds[i]);
        _fdCount = 0;
    }

    public void Dispose()
    {
        CloseUnclaimedFds();
        if (_buf != null)
        {
            NativeMemory.Free(_buf);
            _buf = null;
        }
    }
}
