using HotPath.Engine.Interop;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// HotPath's vhost-user frontend: the driver side of the protocol, the role QEMU or DPDK's virtio-user plays.
/// It sends typed requests over a connected socket and checks every reply (request id, flags, size, fds) with a
/// bounded wait, so a missing, late, truncated or malformed reply becomes a <see cref="VhostUserException"/> that
/// names the request. Once a reply went wrong the connection is broken for good (a late reply would desynchronise
/// it); only a REPLY_ACK refusal (<see cref="VhostUserFailure.Nack"/>) leaves it usable.
/// <para>
/// The typed requests behave like a correct frontend: a request that needs a protocol feature is refused here
/// (<see cref="InvalidOperationException"/>) unless that feature was negotiated. Malformed and out-of-order messages
/// are sent through <see cref="Hostile"/> instead. Not thread-safe; the backend-request channel
/// (<see cref="BackendChannel"/>) may be served from another thread.
/// </para>
/// <example>
/// <code>
/// using var mem = FrontendMemory.Create(8 &lt;&lt; 20);
/// var rings = NetVrings.Allocate(mem, queuePairs: 1, size: 256, packed: false);
/// using var fe = VhostUserFrontend.Connect("/tmp/vhost.sock", TimeSpan.FromSeconds(5));
/// fe.Start(mem, rings);                  // SET_OWNER ... SET_STATUS DRIVER_OK
/// fe.Notifiers[1].Kick();                // TX ring 1 has buffers (a ring driver posted them)
/// fe.Notifiers[0].WaitForCall(timeout);  // the backend used RX buffers
/// uint[] bases = fe.Stop();              // GET_VRING_BASE per ring
/// </code>
/// </example>
/// </summary>
public sealed partial class VhostUserFrontend : IDisposable
{
    public static readonly TimeSpan DefaultReplyTimeout = TimeSpan.FromSeconds(5);

    private readonly MessageChannel _channel;
    private readonly List<VringNotifier> _notifiers = new();
    private BackendChannel? _backendChannel;
    private HostileConnection? _hostile;
    private string? _brokenBecause;

    private VhostUserFrontend(MessageChannel channel, string peer, TimeSpan replyTimeout)
    {
        _channel = channel;
        Peer = peer;
        ReplyTimeout = replyTimeout;
    }

    /// <summary>Client mode: connects to a backend's server socket, retrying until it appears or the timeout passes.</summary>
    public static VhostUserFrontend Connect(string socketPath, TimeSpan connectTimeout, TimeSpan? replyTimeout = null) =>
        FromConnectedSocket(UnixSockets.Connect(socketPath, connectTimeout), socketPath, replyTimeout);

    /// <summary>Wraps a connected stream socket (taking ownership): server mode's accepted fd, or one end of a socketpair.</summary>
    public static VhostUserFrontend FromConnectedSocket(int fd, string peer, TimeSpan? replyTimeout = null)
    {
        TimeSpan timeout = replyTimeout ?? DefaultReplyTimeout;
        MessageChannel channel;
        try
        {
            channel = new MessageChannel(fd, readsReplies: true, timeout);
        }
        catch
        {
            LibC.close(fd);
            throw;
        }
        return new VhostUserFrontend(channel, peer, timeout);
    }

    /// <summary>The socket path (or description) of the backend, for messages.</summary>
    public string Peer { get; }

    /// <summary>How long each reply may take.</summary>
    public TimeSpan ReplyTimeout { get; }

    /// <summary>
    /// With REPLY_ACK negotiated, send every request that has no reply of its own with NEED_REPLY and wait for the
    /// u64 ack (a non-zero ack throws <see cref="VhostUserFailure.Nack"/>). On by default; QEMU asks for acks on a
    /// subset of requests, asking on all of them only makes failures surface at the request that caused them.
    /// </summary>
    public bool RequestAcks { get; set; } = true;

    /// <summary>
    /// Refuse typed requests whose protocol feature was not negotiated (on by default, as QEMU behaves). Turn it off
    /// to send a well-formed request a backend handles without offering its feature (DPDK 22.11 answers
    /// GET_INFLIGHT_FD without offering INFLIGHT_SHMFD).
    /// </summary>
    public bool EnforceProtocolFeatures { get; set; } = true;

    /// <summary>The socket fd (for hostile tests that need to poke it directly).</summary>
    public int Socket => _channel.Fd;

    /// <summary>Why the connection is unusable, or null while it works.</summary>
    public string? BrokenBecause => _brokenBecause;

    public bool IsBroken => _brokenBecause != null;

    /// <summary>The eventfds of each vring, created by <see cref="StartDevice"/> (index = vring index).</summary>
    public IReadOnlyList<VringNotifier> Notifiers => _notifiers;

    /// <summary>The backend-request channel, once <see cref="SetBackendReqFd"/> set it up.</summary>
    public BackendChannel? BackendChannel => _backendChannel;

    /// <summary>
    /// The malformed-message mode on this same connection: raw headers, payloads and fds, and a way to see whether
    /// the backend replied or closed. Sending through it may leave this frontend's view of the backend stale.
    /// </summary>
    public HostileConnection Hostile => _hostile ??= new HostileConnection(_channel, ownsChannel: false, Peer);

    /// <summary>True when the request needs no protocol feature, or the one it needs was negotiated.</summary>
    public bool CanSend(FrontendRequest request) => WhyNotAllowed(RequestRules.For(request)) == null;

    /// <summary>Why a correct frontend may not send <paramref name="rule"/>'s request now, or null when it may.</summary>
    private string? WhyNotAllowed(RequestRule rule)
    {
        if (rule.NeedsProtocolFeaturesBit && !VirtioHasProtocolFeaturesBit)
            return $"{rule.Name} needs the backend to offer VHOST_USER_F_PROTOCOL_FEATURES (bit 30) in GET_FEATURES" +
                   (_gotFeatures ? $"; it offered 0x{BackendFeatures:x}" : "; GET_FEATURES was not sent yet");
        if (rule.ProtocolFeature >= 0 && !HasProtocolFeature(rule.ProtocolFeature))
            return $"{rule.Name} needs protocol feature {ProtocolFeatures.Name(rule.ProtocolFeature)}, which was not negotiated " +
                   $"(negotiated: {(ProtocolFeaturesNegotiated ? ProtocolFeatures.Describe(AckedProtocolFeatures) : "none yet")})";
        return null;
    }

    private RequestRule Check(FrontendRequest request)
    {
        RequestRule rule = RequestRules.For(request);
        if (_brokenBecause != null)
            throw new VhostUserException(request, VhostUserFailure.Broken, $"the connection to {Peer} is broken: {_brokenBecause}");
        if (EnforceProtocolFeatures && WhyNotAllowed(rule) is { } why) throw new InvalidOperationException(why);
        return rule;
    }

    private bool AcksNegotiated => HasProtocolFeature(ProtocolFeatures.ReplyAck);

    /// <summary>
    /// Sends a request that has no reply of its own. With REPLY_ACK negotiated and <see cref="RequestAcks"/> on,
    /// it carries NEED_REPLY and the u64 ack is awaited: zero is success, anything else a refusal.
    /// </summary>
    private void Post(FrontendRequest request, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        RequestRule rule = Check(request);
        bool ack = rule.Reply == ReplyKind.None && RequestAcks && AcksNegotiated;
        Send(request, payload, fds, ack ? MessageHeader.FlagNeedReply : 0);
        if (ack) ReceiveAck(request);
    }

    /// <summary>Waits for the u64 ack of a request sent with NEED_REPLY: zero is success, anything else a refusal.</summary>
    private void ReceiveAck(FrontendRequest request)
    {
        using ReceivedMessage reply = Receive(request);
        ExpectSize(request, reply, 8, "REPLY_ACK u64");
        ExpectFds(request, reply, 0);
        if (reply.U64 != 0)
            throw new VhostUserException(request, VhostUserFailure.Nack,
                $"{Peer} refused it (REPLY_ACK returned {reply.U64}, expected 0)");
    }

    /// <summary>Sends a request with a reply of its own and returns that reply, checked for request id and flags.</summary>
    private ReceivedMessage Call(FrontendRequest request, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        Check(request);
        Send(request, payload, fds, 0);
        return Receive(request);
    }

    private void Send(FrontendRequest request, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds, uint extraFlags)
    {
        int rc = _channel.Send((uint)request, MessageHeader.Version | extraFlags, payload, fds);
        if (rc < 0)
            throw Break(request, VhostUserFailure.SendFailed, $"sending to {Peer} failed: {LibC.StrError(-rc)}");
    }

    private ReceivedMessage Receive(FrontendRequest request)
    {
        ReceivedMessage reply = _channel.Receive(ReplyTimeout);
        switch (reply.Status)
        {
            case ReceiveStatus.Message:
                break;
            case ReceiveStatus.TimedOut:
                throw Break(request, VhostUserFailure.Timeout,
                    $"no reply from {Peer} within {ReplyTimeout.TotalSeconds:0.###} s");
            case ReceiveStatus.Closed:
                throw Break(request, VhostUserFailure.Closed, $"{Peer} closed the connection instead of replying ({reply.Describe()})");
            default:
                throw Break(request, VhostUserFailure.MalformedReply, $"malformed reply from {Peer}: {reply.Describe()}");
        }
        if (reply.Header.Request != (uint)request)
        {
            string got = RequestRules.NameOf((FrontendRequest)reply.Header.Request);
            reply.Dispose();
            throw Break(request, VhostUserFailure.MalformedReply, $"the reply from {Peer} is for {got}");
        }
        return reply;
    }

    private void ExpectSize(FrontendRequest request, ReceivedMessage reply, int size, string what)
    {
        if (reply.Payload.Length == size) return;
        reply.Dispose();
        throw Break(request, VhostUserFailure.MalformedReply,
            $"the reply from {Peer} has {reply.Payload.Length} payload bytes; a {what} is {size}");
    }

    private void ExpectFds(FrontendRequest request, ReceivedMessage reply, int count)
    {
        if (reply.FdCount == count) return;
        int got = reply.FdCount;
        reply.Dispose();
        throw Break(request, VhostUserFailure.MalformedReply, $"the reply from {Peer} carried {got} fd(s), expected {count}");
    }

    private VhostUserException Break(FrontendRequest request, VhostUserFailure failure, string detail)
    {
        var e = new VhostUserException(request, failure, detail);
        _brokenBecause ??= e.Message;
        return e;
    }

    /// <summary>Closes the connection, the backend-request channel and every eventfd. Guest memory is the caller's.</summary>
    public void Dispose()
    {
        _brokenBecause ??= "disconnected";
        _channel.Dispose();
        _backendChannel?.Dispose();
        _backendChannel = null;
        DisposeNotifiers();
    }

    private void DisposeNotifiers()
    {
        foreach (VringNotifier n in _notifiers) n.Dispose();
        _notifiers.Clear();
    }
}
