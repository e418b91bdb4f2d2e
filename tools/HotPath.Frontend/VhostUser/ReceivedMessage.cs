using System.Runtime.InteropServices;
using HotPath.Engine.Interop;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>How a wait for one message on a <see cref="MessageChannel"/> ended.</summary>
public enum ReceiveStatus
{
    /// <summary>A whole, well-framed message arrived.</summary>
    Message,
    /// <summary>The peer closed the connection (orderly close between messages, or ECONNRESET).</summary>
    Closed,
    /// <summary>Nothing complete arrived before the timeout.</summary>
    TimedOut,
    /// <summary>The bytes were refused by the framing checks (<see cref="ReceivedMessage.Framing"/> says why).</summary>
    Refused,
}

/// <summary>
/// One message read from a socket, copied out of the reader: header, payload bytes and the fds that came with it.
/// It owns those fds: <see cref="Dispose"/> closes every one that was not taken with <see cref="TakeFd"/>.
/// </summary>
public sealed class ReceivedMessage : IDisposable
{
    private readonly int[] _fds;

    private ReceivedMessage(ReceiveStatus status, MessageHeader header, byte[] payload, int[] fds, FramingError framing, int errno)
    {
        Status = status;
        Header = header;
        Payload = payload;
        _fds = fds;
        Framing = framing;
        Errno = errno;
    }

    public ReceiveStatus Status { get; }
    public MessageHeader Header { get; }
    public byte[] Payload { get; }
    public FramingError Framing { get; }
    /// <summary>errno behind a <see cref="FramingError.ReadFailed"/> or a reset connection.</summary>
    public int Errno { get; }

    public int FdCount => _fds.Length;

    /// <summary>The fds still owned by this message (-1 where taken).</summary>
    public ReadOnlySpan<int> Fds => _fds;

    public bool IsMessage => Status == ReceiveStatus.Message;

    /// <summary>Takes ownership of fd <paramref name="i"/>; -1 when there is none.</summary>
    public int TakeFd(int i)
    {
        if ((uint)i >= (uint)_fds.Length) return -1;
        int fd = _fds[i];
        _fds[i] = -1;
        return fd;
    }

    /// <summary>The payload as <typeparamref name="T"/>; the caller has checked the size.</summary>
    public T PayloadAs<T>() where T : unmanaged => MemoryMarshal.Read<T>(Payload);

    /// <summary>The payload as a u64 (replies, acks); the caller has checked the size.</summary>
    public ulong U64 => PayloadAs<ulong>();

    public static ReceivedMessage Copy(MessageReader reader)
    {
        var fds = new int[reader.FdCount];
        for (int i = 0; i < fds.Length; i++) fds[i] = reader.TakeFd(i);
        return new ReceivedMessage(ReceiveStatus.Message, reader.Header, reader.Payload.ToArray(), fds, FramingError.None, 0);
    }

    public static ReceivedMessage Without(ReceiveStatus status, FramingError framing = FramingError.None, int errno = 0) =>
        new(status, default, Array.Empty<byte>(), Array.Empty<int>(), framing, errno);

    /// <summary>One line for logs and assertion messages.</summary>
    public string Describe() => Status switch
    {
        ReceiveStatus.Message =>
            $"{RequestRules.NameOf((FrontendRequest)Header.Request)} flags 0x{Header.Flags:x} size {Header.Size}" +
            (Payload.Length == 8 ? $" u64 0x{U64:x}" : "") + (FdCount > 0 ? $" with {FdCount} fd(s)" : ""),
        ReceiveStatus.Refused => $"refused bytes: {Framing.Describe()}" + (Errno != 0 ? $" ({LibC.StrError(Errno)})" : ""),
        ReceiveStatus.Closed => Errno != 0 ? $"connection closed ({LibC.StrError(Errno)})" : "connection closed",
        _ => "no message before the timeout",
    };

    public void Dispose()
    {
        for (int i = 0; i < _fds.Length; i++)
        {
            if (_fds[i] >= 0) LibC.close(_fds[i]);
            _fds[i] = -1;
        }
    }
}
