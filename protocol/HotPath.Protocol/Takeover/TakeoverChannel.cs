using System.Runtime.InteropServices;
using System.Text;
using HotPath.Engine.Interop;
using HotPath.Protocol.Transport;

namespace HotPath.Protocol.Takeover;

/// <summary>One packet as received: its kind, payload and the fds that came with it (owned by the receiver).</summary>
internal sealed class TakeoverPacket(TakeoverKind kind, byte[] payload, int[] fds)
{
    public TakeoverKind Kind { get; } = kind;
    public byte[] Payload { get; } = payload;
    public int[] Fds { get; } = fds;

    public T As<T>() where T : unmanaged =>
        Payload.Length >= Marshal.SizeOf<T>() ? MemoryMarshal.Read<T>(Payload) : throw new TakeoverException($"{Kind} packet too short");

    public string Text => Encoding.UTF8.GetString(Payload);

    /// <summary>Closes the fds nobody took (a refused or aborted takeover).</summary>
    public void CloseFds()
    {
        for (int i = 0; i < Fds.Length; i++)
        {
            if (Fds[i] >= 0) LibC.close(Fds[i]);
            Fds[i] = -1;
        }
    }
}

/// <summary>A takeover step that cannot go on: the message says why.</summary>
internal class TakeoverException(string message) : Exception(message);

/// <summary>
/// The takeover connection: a Unix SOCK_SEQPACKET socket (packet boundaries kept, so a packet and its fds arrive
/// together or not at all). Every receive has a deadline: a peer that stops answering never holds the control thread
/// longer than <see cref="TimeoutMs"/>.
/// </summary>
internal sealed unsafe partial class TakeoverChannel : IDisposable
{
    public const int SOCK_SEQPACKET = 5;
    private const int SO_PEERCRED = 17;
    private const int MaxPacket = 64 * 1024;
    private const int MaxFds = 16;

    private int _fd;
    /// <summary>One packet's worth, reused: a packet is parsed into its own small arrays before the next receive.</summary>
    private readonly byte[] _receiveBuffer = new byte[MaxPacket];

    public TakeoverChannel(int fd)
    {
        _fd = fd;
        PeerPid = ReadPeerPid(fd, out uint uid);
        PeerUid = uid;
    }

    /// <summary>The socket (tests write raw bytes on it).</summary>
    internal int Fd => _fd;

    public int PeerPid { get; }
    public uint PeerUid { get; }

    /// <summary>Deadline of one receive, from HOTPATH_TAKEOVER_TIMEOUT_MS (default 5000).</summary>
    public static int TimeoutMs { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("HOTPATH_TAKEOVER_TIMEOUT_MS"), out int ms) && ms > 0 ? ms : 5000;

    /// <summary>Connects to a takeover socket; -errno when nobody serves it.</summary>
    public static int Connect(string path, out TakeoverChannel? channel)
    {
        channel = null;
        if (!SocketCalls.TryMakeAddress(path, out SockAddrUn addr, out int len)) return -ENAMETOOLONG;
        int fd = SocketCalls.socket(SocketCalls.AF_UNIX, SOCK_SEQPACKET | SocketCalls.SOCK_CLOEXEC, 0);
        if (fd < 0) return -LibC.Errno;
        if (SocketCalls.connect(fd, &addr, len) != 0)
        {
            int e = LibC.Errno;
            LibC.close(fd);
            return -e;
        }
        channel = new TakeoverChannel(fd);
        return 0;
    }

    public void Send(TakeoverKind kind, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        if (fds.Length > MaxFds) throw new TakeoverException($"{kind}: {fds.Length} fds in one packet");
        TakeoverHeader h = new()
        {
            Magic = TakeoverHeader.MagicValue, Version = TakeoverHeader.CurrentVersion, Kind = (ushort)kind,
            PayloadSize = (uint)payload.Length,
        };
        byte* control = stackalloc byte[ScmRights.ControlSize(fds.Length)];
        fixed (byte* pl = payload)
        {
            IoVec* iov = stackalloc IoVec[2];
            iov[0] = new IoVec { Base = &h, Len = TakeoverHeader.Size };
            iov[1] = new IoVec { Base = pl, Len = (nuint)payload.Length };
            MsgHdr msg = new() { Iov = iov, IovLen = payload.Length > 0 ? 2u : 1u };
            ScmRights.Attach(ref msg, control, fds);
            while (true)
            {
                nint n = SocketCalls.sendmsg(_fd, &msg, SocketCalls.MSG_NOSIGNAL);
                if (n >= 0) return;
                int e = LibC.Errno;
                if (e == LibC.EPIPE || e == LibC.ECONNRESET) throw new TakeoverClosedException($"sending {kind}: {LibC.StrError(e)}");
                if (e != LibC.EINTR) throw new TakeoverException($"sending {kind}: {LibC.StrError(e)}");
            }
        }
    }

    public void Send<T>(TakeoverKind kind, in T payload, ReadOnlySpan<int> fds = default) where T : unmanaged
    {
        T copy = payload;
        Send(kind, new ReadOnlySpan<byte>(&copy, sizeof(T)), fds);
    }

    public void SendText(TakeoverKind kind, string text) => Send(kind, Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// The next packet, or null when the peer closed the connection. A Refuse from the peer, a malformed packet and
    /// the deadline throw <see cref="TakeoverException"/>.
    /// </summary>
    public TakeoverPacket? Receive(string waitingFor)
    {
        var pfd = new PollFd { Fd = _fd, Events = SocketCalls.POLLIN };
        long deadline = Environment.TickCount64 + TimeoutMs;
        while (true)
        {
            int left = (int)Math.Max(0, deadline - Environment.TickCount64);
            int rc = SocketCalls.poll(&pfd, 1, left);
            if (rc > 0) break;
            if (rc < 0 && LibC.Errno == LibC.EINTR) continue;
            if (rc == 0) throw new TakeoverTimeoutException($"no {waitingFor} from pid {PeerPid} within {TimeoutMs} ms");
            throw new TakeoverException($"poll: {LibC.StrError(LibC.Errno)}");
        }
        byte[] buf = _receiveBuffer;
        int controlBytes = CmsgHdr.Space(MaxFds * sizeof(int));
        byte* control = stackalloc byte[controlBytes];
        nint got;
        MsgHdr msg;
        fixed (byte* p = buf)
        {
            IoVec iov = new() { Base = p, Len = (nuint)buf.Length };
            msg = new MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = (nuint)controlBytes };
            do got = SocketCalls.recvmsg(_fd, &msg, SocketCalls.MSG_CMSG_CLOEXEC);
            while (got < 0 && LibC.Errno == LibC.EINTR);
        }
        if (got < 0)
        {
            int e = LibC.Errno;
            if (e == LibC.ECONNRESET) return null;
            throw new TakeoverException($"receiving {waitingFor}: {LibC.StrError(e)}");
        }
        int[] fds = CollectFds(control, msg);
        if (got == 0 && fds.Length == 0) return null;
        var packet = Parse(buf.AsSpan(0, (int)got), msg.Flags, fds, waitingFor);
        if (packet.Kind == TakeoverKind.Refuse)
        {
            packet.CloseFds();
            throw new TakeoverException($"pid {PeerPid} refused: {packet.Text}");
        }
        return packet;
    }

    /// <summary>The next packet, which must be <paramref name="kind"/>; a closed connection throws.</summary>
    public TakeoverPacket Expect(TakeoverKind kind)
    {
        TakeoverPacket p = Receive(kind.ToString()) ?? throw new TakeoverClosedException($"pid {PeerPid} closed the connection before {kind}");
        if (p.Kind != kind)
        {
            p.CloseFds();
            throw new TakeoverException($"expected {kind}, got {p.Kind}");
        }
        return p;
    }

    private static TakeoverPacket Parse(ReadOnlySpan<byte> bytes, int flags, int[] fds, string waitingFor)
    {
        string? bad = null;
        TakeoverHeader h = default;
        if ((flags & (SocketCalls.MSG_CTRUNC | MSG_TRUNC)) != 0) bad = "truncated packet";
        else if (bytes.Length < TakeoverHeader.Size) bad = $"{bytes.Length}-byte packet";
        else
        {
            h = MemoryMarshal.Read<TakeoverHeader>(bytes);
            if (h.Magic != TakeoverHeader.MagicValue) bad = $"bad magic 0x{h.Magic:x8}";
            else if (h.Version != TakeoverHeader.CurrentVersion)
                bad = $"protocol version {h.Version}, this library speaks {TakeoverHeader.CurrentVersion}";
            else if (h.PayloadSize != bytes.Length - TakeoverHeader.Size) bad = "payload size disagrees with the packet";
            else if (!Enum.IsDefined((TakeoverKind)h.Kind)) bad = $"unknown packet kind {h.Kind}";
        }
        if (bad != null)
        {
            foreach (int fd in fds) LibC.close(fd);
            throw new TakeoverException($"waiting for {waitingFor}: {bad}");
        }
        return new TakeoverPacket((TakeoverKind)h.Kind, bytes[TakeoverHeader.Size..].ToArray(), fds);
    }

    private const int MSG_TRUNC = 0x20, ENAMETOOLONG = 36;

    private static int[] CollectFds(byte* control, in MsgHdr msg)
    {
        var fds = new List<int>();
        for (byte* c = control; msg.ControlLen >= (nuint)CmsgHdr.HeaderSize && c + CmsgHdr.HeaderSize <= control + (int)msg.ControlLen;)
        {
            CmsgHdr* h = (CmsgHdr*)c;
            if (h->Len < (nuint)CmsgHdr.HeaderSize || c + (int)h->Len > control + (int)msg.ControlLen) break;
            if (h->Level == SocketCalls.SOL_SOCKET && h->Type == SocketCalls.SCM_RIGHTS)
            {
                int count = ((int)h->Len - CmsgHdr.HeaderSize) / sizeof(int);
                for (int i = 0; i < count; i++) fds.Add(((int*)(c + CmsgHdr.HeaderSize))[i]);
            }
            c += CmsgHdr.Space((int)h->Len - CmsgHdr.HeaderSize);
        }
        return fds.ToArray();
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int chmod(string path, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockopt(int fd, int level, int name, void* val, int* len);

    private static int ReadPeerPid(int fd, out uint uid)
    {
        UCred cred = default;
        int len = sizeof(UCred);
        if (getsockopt(fd, SocketCalls.SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        {
            uid = uint.MaxValue;
            return -1;
        }
        uid = cred.Uid;
        return cred.Pid;
    }

    /// <summary>Whether <paramref name="fd"/> is a Unix stream socket (a vhost-user connection or listener).</summary>
    public static bool IsStreamSocket(int fd, bool listening)
    {
        const int SO_TYPE = 3, SO_ACCEPTCONN = 30;
        int type = 0, accepting = 0, len = sizeof(int);
        if (getsockopt(fd, SocketCalls.SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SocketCalls.SOCK_STREAM) return false;
        len = sizeof(int);
        return getsockopt(fd, SocketCalls.SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && (accepting != 0) == listening;
    }

    /// <summary>
    /// Whether the peer process is gone (no /proc entry, or a zombie), waiting up to <paramref name="waitMs"/> for it:
    /// a killed process closes its sockets a moment before it becomes a zombie.
    /// </summary>
    public bool PeerIsGone(int waitMs)
    {
        if (PeerPid <= 0) return false;
        long deadline = Environment.TickCount64 + waitMs;
        while (true)
        {
            if (IsGone(PeerPid)) return true;
            if (Environment.TickCount64 >= deadline) return false;
            Thread.Sleep(10);
        }
    }

    private static bool IsGone(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close < 0 || close + 2 >= stat.Length || stat[close + 2] is 'Z' or 'X';
        }
        catch (IOException)
        {
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        if (_fd >= 0) LibC.close(_fd);
        _fd = -1;
    }
}

/// <summary>The peer said nothing within the deadline.</summary>
internal sealed class TakeoverTimeoutException(string message) : TakeoverException(message);

/// <summary>The peer closed the takeover connection (or died) where a packet was due.</summary>
internal sealed class TakeoverClosedException(string message) : TakeoverException(message);
