using HotPath.Engine.Interop;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// One message exactly as a hostile frontend sends it: a header whose fields may lie (request id, flags, a size
/// that disagrees with the bytes), the payload bytes actually sent, and the fds attached. It owns those fds
/// (memfds and eventfds the builders made) and closes them on <see cref="Dispose"/>; the backend gets its own
/// copies through SCM_RIGHTS.
/// </summary>
public sealed class HostileMessage : IDisposable
{
    private readonly int[] _fds;

    public HostileMessage(string name, int securityCase, MessageHeader header, byte[] payload, int[] ownedFds)
    {
        Name = name;
        SecurityCase = securityCase;
        Header = header;
        Payload = payload;
        _fds = ownedFds;
    }

    /// <summary>What is wrong with it, for test names and assertion messages.</summary>
    public string Name { get; }

    /// <summary>The case number in SECURITY.md this message exercises (0 when it is a well-formed message).</summary>
    public int SecurityCase { get; }

    public MessageHeader Header { get; }
    public byte[] Payload { get; }
    public ReadOnlySpan<int> Fds => _fds;
    public FrontendRequest Request => (FrontendRequest)Header.Request;

    /// <summary>A message whose header is honest: size = payload length, version 1, no other flags but <paramref name="flags"/>.</summary>
    public static HostileMessage Honest(string name, int securityCase, FrontendRequest request, byte[] payload,
        int[]? ownedFds = null, uint flags = MessageHeader.Version) =>
        new(name, securityCase, new MessageHeader { Request = (uint)request, Flags = flags, Size = (uint)payload.Length },
            payload, ownedFds ?? Array.Empty<int>());

    /// <summary>Any header, any bytes, any fds: the raw form everything else builds on.</summary>
    public static HostileMessage Raw(string name, uint request, uint flags, uint sizeField, byte[] payload, int[]? ownedFds = null,
        int securityCase = 0) =>
        new(name, securityCase, new MessageHeader { Request = request, Flags = flags, Size = sizeField }, payload,
            ownedFds ?? Array.Empty<int>());

    /// <summary>The same message with NEED_REPLY set, so a backend with REPLY_ACK answers instead of only closing.</summary>
    public HostileMessage WithNeedReply()
    {
        MessageHeader h = Header;
        h.Flags |= MessageHeader.FlagNeedReply;
        return new HostileMessage(Name + " (NEED_REPLY)", SecurityCase, h, Payload, TakeFds());
    }

    private int[] TakeFds()
    {
        int[] copy = (int[])_fds.Clone();
        Array.Fill(_fds, -1);
        return copy;
    }

    public override string ToString() =>
        $"{Name}: {RequestRules.NameOf(Request)} flags 0x{Header.Flags:x} size field {Header.Size}, {Payload.Length} bytes sent, {_fds.Length} fd(s)";

    public void Dispose()
    {
        for (int i = 0; i < _fds.Length; i++)
        {
            if (_fds[i] >= 0) LibC.close(_fds[i]);
            _fds[i] = -1;
        }
    }
}
