using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using HotPath.Engine.Interop;
using HotPath.Engine.Virtio;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;

namespace HotPath.Tests.Frontend;

/// <summary>
/// The peer side of the frontend's unit tests: a small vhost-user backend on a real socket that decodes every
/// message with the protocol's own <see cref="MessageReader"/>, records it (header, payload, fds) and answers
/// the requests that have replies, so the tests can check the exact bytes and fds the frontend produced. It keeps
/// the state a reply needs (status, vring bases) and nothing else. <see cref="Intercept"/> lets a test answer
/// wrongly on purpose. Not a substitute for a backend: the DPDK tests are that.
/// </summary>
internal sealed class RecordingBackend : IDisposable
{
    /// <summary>One message as received. <see cref="Fds"/> stay open when <see cref="KeepFds"/> is set.</summary>
    public sealed record Recorded(FrontendRequest Request, uint Flags, uint Size, byte[] Payload, int[] Fds, long[] FdFileSizes,
        ulong[] FdInodes)
    {
        public bool NeedReply => (Flags & MessageHeader.FlagNeedReply) != 0;
        public T As<T>() where T : unmanaged => MemoryMarshal.Read<T>(Payload);
        public ulong U64 => As<ulong>();
    }

    private readonly ConcurrentQueue<Recorded> _messages = new();
    private readonly List<Thread> _threads = new();
    private readonly List<int> _sockets = new();
    private readonly Dictionary<uint, uint> _bases = new();
    private readonly List<int> _keptFds = new();
    private int _listenFd = -1;
    private string? _listenPath;
    private volatile bool _stopping;
    private ulong _status;

    public ulong Features { get; set; } =
        NetDeviceOptions.DefaultFeatures | VirtioFeatures.Bit(VirtioFeatures.RingPacked) | VirtioFeatures.Bit(VirtioFeatures.NetMq) |
        VirtioFeatures.Bit(VirtioFeatures.ProtocolFeatures) | VirtioFeatures.Bit(VirtioFeatures.RingEventIdx);

    public ulong ProtocolFeatureBits { get; set; } = ProtocolFeatures.Supported;
    public ulong QueueNum { get; set; } = 8;
    public ulong MaxMemSlots { get; set; } = 32;
    public ulong InflightSize { get; set; } = 4096;

    /// <summary>Keep received fds open (the test inspects them); they are closed on <see cref="Dispose"/>.</summary>
    public bool KeepFds { get; set; }

    /// <summary>Called first for every message with the socket; return true when it dealt with the message itself.</summary>
    public Func<Recorded, int, bool>? Intercept { get; set; }

    /// <summary>The backend's end of the backend-request channel, once SET_BACKEND_REQ_FD arrived (with KeepFds).</summary>
    public int BackendReqFd { get; private set; } = -1;

    public IReadOnlyList<Recorded> Messages => _messages.ToArray();

    public IEnumerable<FrontendRequest> Requests => Messages.Select(m => m.Request);

    public int Connections { get; private set; }

    /// <summary>A backend on one end of a socketpair; the other end is returned for the frontend.</summary>
    public static RecordingBackend Pair(out int frontendFd, Action<RecordingBackend>? configure = null)
    {
        (int ours, int theirs) = UnixSockets.Pair();
        var b = new RecordingBackend();
        configure?.Invoke(b);
        b.Serve(ours);
        frontendFd = theirs;
        return b;
    }

    /// <summary>A backend serving an already connected socket (a client-mode backend that connected to a frontend).</summary>
    public static RecordingBackend OnSocket(int fd, Action<RecordingBackend>? configure = null)
    {
        var b = new RecordingBackend();
        configure?.Invoke(b);
        b.Serve(fd);
        return b;
    }

    /// <summary>Connections still open on the backend side.</summary>
    public int LiveConnections
    {
        get
        {
            lock (_threads) return _sockets.Count;
        }
    }

    /// <summary>A backend listening on <paramref name="path"/>, serving every connection.</summary>
    public static RecordingBackend Listen(string path, Action<RecordingBackend>? configure = null)
    {
        var b = new RecordingBackend();
        configure?.Invoke(b);
        b._listenFd = UnixSockets.Listen(path);
        b._listenPath = path;
        var t = new Thread(() => b.AcceptLoop(path)) { IsBackground = true, Name = "recording-backend-accept" };
        b._threads.Add(t);
        t.Start();
        return b;
    }

    private void AcceptLoop(string path)
    {
        while (!_stopping)
        {
            int fd;
            try
            {
                fd = UnixSockets.Accept(_listenFd, path, TimeSpan.FromMilliseconds(50));
            }
            catch (TimeoutException)
            {
                continue;
            }
            catch (IOException)
            {
                return;
            }
            Serve(fd);
        }
    }

    private void Serve(int fd)
    {
        lock (_threads)
        {
            Connections++;
            _sockets.Add(fd);
            var t = new Thread(() => Loop(fd)) { IsBackground = true, Name = "recording-backend" };
            _threads.Add(t);
            t.Start();
        }
    }

    /// <summary>The exception an <see cref="Intercept"/> (or a reply) threw; the connection was closed after it.</summary>
    public Exception? Error { get; private set; }

    private void Loop(int fd)
    {
        using var reader = new MessageReader(readsReplies: false);
        try
        {
            while (!_stopping)
            {
                ReadStatus s = reader.Read(fd);
                if (s != ReadStatus.Message) break;
                Recorded m = Record(reader);
                reader.Next();
                _messages.Enqueue(m);
                if (Intercept?.Invoke(m, fd) == true) continue;
                Answer(m, fd);
            }
        }
        catch (Exception e)
        {
            Error = e;   // a test thread's failure must not take the test host down
        }
        lock (_threads)
        {
            if (_sockets.Remove(fd)) LibC.close(fd);
        }
    }

    private Recorded Record(MessageReader reader)
    {
        var fds = new int[reader.FdCount];
        var sizes = new long[fds.Length];
        var inodes = new ulong[fds.Length];
        for (int i = 0; i < fds.Length; i++)
        {
            fds[i] = reader.TakeFd(i);
            sizes[i] = LibC.FileSize(fds[i]);
            inodes[i] = Inode(fds[i]);
            if (KeepFds) lock (_keptFds) _keptFds.Add(fds[i]);
            else LibC.close(fds[i]);
        }
        return new Recorded(reader.Request, reader.Header.Flags, reader.Header.Size, reader.Payload.ToArray(), fds, sizes, inodes);
    }

    public static unsafe ulong Inode(int fd)
    {
        Stat st;
        return LibC.fstat(fd, &st) == 0 ? st.Ino : 0;
    }

    private void Answer(Recorded m, int fd)
    {
        switch (m.Request)
        {
            case FrontendRequest.GetFeatures: ReplyU64(fd, m, Features); return;
            case FrontendRequest.GetProtocolFeatures: ReplyU64(fd, m, ProtocolFeatureBits); return;
            case FrontendRequest.GetQueueNum: ReplyU64(fd, m, QueueNum); return;
            case FrontendRequest.GetMaxMemSlots: ReplyU64(fd, m, MaxMemSlots); return;
            case FrontendRequest.GetStatus: ReplyU64(fd, m, _status); return;
            case FrontendRequest.SetStatus: _status = m.U64; break;
            case FrontendRequest.SetVringBase:
                lock (_bases) _bases[m.As<VringStatePayload>().Index] = m.As<VringStatePayload>().Num;
                break;
            case FrontendRequest.GetVringBase:
            {
                uint index = m.As<VringStatePayload>().Index;
                uint num;
                lock (_bases) num = _bases.GetValueOrDefault(index);
                Reply(fd, m, FrontendPayloads.VringState(index, num));
                return;
            }
            case FrontendRequest.GetConfig:
            {
                byte[] echo = (byte[])m.Payload.Clone();
                for (int i = ConfigPayload.HeaderSize; i < echo.Length; i++) echo[i] = (byte)(0xC0 + i);
                Reply(fd, m, echo);
                return;
            }
            case FrontendRequest.GetInflightFd:
            {
                var ask = m.As<InflightPayload>();
                int memfd = LibC.MemfdCreate("recording-inflight", (long)InflightSize);
                var answer = new InflightPayload { MmapSize = InflightSize, NumQueues = ask.NumQueues, QueueSize = ask.QueueSize };
                Reply(fd, m, FrontendPayloads.Of(answer), [memfd]);
                LibC.close(memfd);
                return;
            }
            case FrontendRequest.SetLogBase:
                Reply(fd, m, Array.Empty<byte>());   // DPDK's empty reply
                return;
            case FrontendRequest.SetBackendReqFd when KeepFds:
                BackendReqFd = m.Fds[0];
                break;
        }
        if (m.NeedReply) ReplyU64(fd, m, 0);
    }

    public static void ReplyU64(int fd, Recorded m, ulong value) => Reply(fd, m, FrontendPayloads.U64(value));

    public static void Reply(int fd, Recorded m, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default) =>
        MessageWriter.Send(fd, (uint)m.Request, MessageHeader.Version | MessageHeader.FlagReply, payload, fds);

    /// <summary>Waits until <paramref name="count"/> messages were recorded.</summary>
    public bool WaitForMessages(int count, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (_messages.Count < count)
        {
            if (Environment.TickCount64 > deadline) return false;
            Thread.Sleep(5);
        }
        return true;
    }

    public void Dispose()
    {
        _stopping = true;
        lock (_threads)
            foreach (int fd in _sockets)
                SocketCalls.shutdown(fd, SocketCalls.SHUT_RDWR);
        foreach (Thread t in _threads.ToArray()) t.Join(TimeSpan.FromSeconds(5));
        if (_listenFd >= 0) LibC.close(_listenFd);
        _listenFd = -1;
        if (_listenPath != null) SocketCalls.Unlink(_listenPath);
        lock (_keptFds)
        {
            foreach (int fd in _keptFds) LibC.close(fd);
            _keptFds.Clear();
        }
    }
}
