using System.Runtime.InteropServices;
using HotPath.Engine;
using HotPath.Engine.Interop;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Control;

/// <summary>
/// One frontend connection and the vhost device behind it (one vid). Runs on the control-plane thread: reads
/// messages, validates each at the door through <see cref="MessageTable"/>, runs its handler, replies, then
/// re-evaluates readiness and fires the device callbacks. A malformed message ends this connection with a
/// logged reason and closes every fd it carried; other connections are not affected.
/// </summary>
public sealed unsafe partial class VhostSession : IFdHandler, IDisposable
{
    /// <summary>Messages handled per wakeup before yielding to other connections (fairness).</summary>
    private const int MessagesPerWakeup = 64;

    private readonly MessageReader _reader = new();
    private byte* _reply;
    private int _replySize;
    private readonly int[] _replyFds = new int[1];
    private int _replyFdCount;
    private int _fd;

    internal VhostSession(VhostDriver driver, int fd, int vid)
    {
        Driver = driver;
        _fd = fd;
        Vid = vid;
        Device = new VhostDevice
        {
            Vid = vid,
            NotifyHook = driver.NotifyHook,
            StatsEnabled = (driver.Flags & VhostDriverFlags.NetStatsEnable) != 0,
            LinearBuffers = (driver.Flags & VhostDriverFlags.LinearbufSupport) != 0,
            ExternalBuffers = (driver.Flags & VhostDriverFlags.ExtbufSupport) != 0,
            BuiltinNet = driver.BuiltinNet,
            Crypto = driver.CryptoEnabled ? new HotPath.Engine.Crypto.VhostCrypto(driver.MaxCryptoSessions) : null,
        };
        _drainIotlbMisses = DrainIotlbMisses;
        Device.IotlbMisses.Sink = this;
        _reply = (byte*)NativeMemory.AllocZeroed(MessageHeader.WireSize + MessageLimits.MaxPayload);
        InitConfigSpace();
    }

    public int Vid { get; }
    public VhostDriver Driver { get; }

    /// <summary>The engine device the datapath runs bursts on.</summary>
    public VhostDevice Device { get; }

    /// <summary>The socket path (what rte_vhost_get_ifname reports).</summary>
    public string IfName => Driver.Path;

    /// <summary>Protocol features agreed by SET_PROTOCOL_FEATURES.</summary>
    public ulong ProtocolFeatures { get; private set; }

    /// <summary>Virtio device status from SET_STATUS.</summary>
    public byte Status { get; private set; }

    /// <summary>True once new_device has returned 0 and until destroy_device. As DPDK's VIRTIO_DEV_RUNNING, it is set on
    /// the control thread just after the callback returns: code that runs inside new_device (or reacts to it on
    /// another thread) sees false until then.</summary>
    public bool IsRunning { get; private set; }

    public bool IsClosed => _fd < 0;

    /// <summary>Why the connection was closed (null while open, or when the peer simply hung up).</summary>
    public string? CloseReason { get; private set; }

    /// <summary>Per-message hooks (rte_vhost_extern_callback_register).</summary>
    public IVhostMessageHook? MessageHook { get; set; }

    internal int SocketFd => _fd;

    internal string Context => $"{Driver.Path} vid={Vid}";

    internal void Log(LogLevel level, string message) => ControlLog.Write(level, Context, message);

    void IFdHandler.OnEvents(uint events)
    {
        for (int i = 0; i < MessagesPerWakeup && !IsClosed; i++)
        {
            switch (_reader.Read(_fd))
            {
                case ReadStatus.Message:
                    Dispatch();
                    if (!IsClosed) _reader.Next();
                    break;
                case ReadStatus.WouldBlock:
                    if ((events & (SocketCalls.EPOLLHUP | SocketCalls.EPOLLERR)) != 0) Close(null);
                    return;
                case ReadStatus.Closed:
                    Log(LogLevel.Info, "frontend closed the connection");
                    Close(null);
                    return;
                case ReadStatus.Error:
                    Refuse(ControlError.Framing, $"{_reader.Error.Describe()}" +
                        (_reader.Error == FramingError.ReadFailed ? $": {LibC.StrError(_reader.Errno)}" : ""));
                    return;
            }
        }
    }

    private void Dispatch()
    {
        ControlCounters.CountMessage();
        ref readonly MessageHeader h = ref _reader.Header;
        if (TryConsumePostcopyAck(h)) return;
        MessageEntry? entry = MessageTable.Find(h.Request);
        if (entry == null)
        {
            Refuse(ControlError.UnknownRequest, $"unknown request id {h.Request}");
            return;
        }
        if (ControlLog.IsEnabled(LogLevel.Debug)) Log(LogLevel.Debug, $"read message {entry.Name} size={h.Size} fds={_reader.FdCount}");
        if (entry.Handler == null)
        {
            Refuse(ControlError.UnsupportedRequest, $"{entry.Name} is not supported");
            return;
        }
        if (!IsAllowed(entry, out string? why))
        {
            Refuse(ControlError.ProtocolFeatureNotNegotiated, why);
            return;
        }
        (ControlError shape, string? detail) = entry.CheckShape(_reader);
        if (shape != ControlError.None)
        {
            Refuse(shape, detail);
            return;
        }

        bool needReply = h.NeedReply;
        uint request = h.Request;
        _replySize = 0;
        _replyFdCount = 0;
        HandlerResult result = RunWithHooks(entry);
        if (IsClosed) return;

        if (result.Outcome == HandlerOutcome.Error)
        {
            ControlCounters.CountRefused(result.Error);
            Log(LogLevel.Warning, $"{entry.Name} refused: {result.Detail ?? result.Error.Describe()}");
        }
        if (result.Outcome == HandlerOutcome.Reply)
        {
            if (!SendReply(request)) return;
        }
        else if (needReply)
        {
            // REPLY_ACK: 0 for success, nonzero for failure; the connection stays up (DPDK's rule).
            if (!SendAck(request, result.Outcome == HandlerOutcome.Error ? 1UL : 0UL)) return;
        }
        else if (result.Outcome == HandlerOutcome.Error)
        {
            CloseOnError(result.Error, $"{entry.Name}: {result.Detail ?? result.Error.Describe()}");
            return;
        }
        UpdateReadiness();
    }

    private bool IsAllowed(MessageEntry entry, out string? why)
    {
        why = null;
        switch (entry.Needs)
        {
            case Needs.ProtocolFeature when !Wire.ProtocolFeatures.Has(ProtocolFeatures, entry.ProtocolFeature):
                why = $"{entry.Name} needs protocol feature {Wire.ProtocolFeatures.Name(entry.ProtocolFeature)}, which was not negotiated";
                return false;
            case Needs.ProtocolFeaturesOffered when !HotPath.Engine.Virtio.VirtioFeatures.Has(Driver.Features, HotPath.Engine.Virtio.VirtioFeatures.ProtocolFeatures):
                why = $"{entry.Name} but PROTOCOL_FEATURES was not offered";
                return false;
        }
        return true;
    }

    private HandlerResult RunWithHooks(MessageEntry entry)
    {
        IVhostMessageHook? hook = MessageHook;
        if (hook != null)
        {
            MessageHookResult pre = CallHook(hook, pre: true);
            switch (pre)
            {
                case MessageHookResult.Reply:
                    PrepareHookReply();
                    return HandlerResult.Reply;
                case MessageHookResult.Ok:
                    return HandlerResult.Ok;
                case MessageHookResult.Error:
                    return HandlerResult.Fail(ControlError.HookFailed, $"{entry.Name}: pre-message hook returned an error");
            }
        }
        HandlerResult result = entry.Handler!(this, _reader);
        if (hook != null && result.Outcome != HandlerOutcome.Error && !IsClosed)
        {
            MessageHookResult post = CallHook(hook, pre: false);
            if (post == MessageHookResult.Reply)
            {
                PrepareHookReply();
                return HandlerResult.Reply;
            }
            if (post == MessageHookResult.Error)
                return HandlerResult.Fail(ControlError.HookFailed, $"{entry.Name}: post-message hook returned an error");
        }
        return result;
    }

    private MessageHookResult CallHook(IVhostMessageHook hook, bool pre)
    {
        try
        {
            return pre ? hook.PreMessage(Vid, _reader.RawMessage) : hook.PostMessage(Vid, _reader.RawMessage);
        }
        catch (Exception e)
        {
            Log(LogLevel.Error, $"message hook threw: {e.Message}");
            return MessageHookResult.Error;
        }
    }

    /// <summary>A hook answered in place: the (possibly rewritten) message becomes the reply.</summary>
    private void PrepareHookReply()
    {
        uint size = Math.Min(((MessageHeader*)_reader.RawMessage)->Size, (uint)MessageLimits.MaxPayload);
        Buffer.MemoryCopy(_reader.RawMessage + MessageHeader.WireSize, _reply, MessageLimits.MaxPayload, size);
        _replySize = (int)size;
    }

    // ---- replies ----

    /// <summary>Reply payload buffer for handlers (MaxPayload bytes).</summary>
    internal Span<byte> ReplyBuffer => new(_reply, MessageLimits.MaxPayload);

    internal HandlerResult ReplyU64(ulong value)
    {
        *(ulong*)_reply = value;
        _replySize = 8;
        return HandlerResult.Reply;
    }

    internal HandlerResult ReplyStruct<T>(in T value) where T : unmanaged
    {
        *(T*)_reply = value;
        _replySize = sizeof(T);
        return HandlerResult.Reply;
    }

    internal HandlerResult ReplyBytes(int size)
    {
        _replySize = size;
        return HandlerResult.Reply;
    }

    /// <summary>Attaches one fd to the reply; the session closes it after sending (the peer got a duplicate).</summary>
    internal void ReplyFd(int fd)
    {
        _replyFds[0] = fd;
        _replyFdCount = 1;
    }

    private bool SendReply(uint request)
    {
        var payload = new ReadOnlySpan<byte>(_reply, _replySize);
        int rc = MessageWriter.Send(_fd, request, MessageHeader.Version | MessageHeader.FlagReply, payload,
            _replyFds.AsSpan(0, _replyFdCount));
        for (int i = 0; i < _replyFdCount; i++) LibC.close(_replyFds[i]);
        _replyFdCount = 0;
        if (rc != 0)
        {
            CloseOnError(ControlError.SendFailed, $"reply to request {request}: {LibC.StrError(-rc)}");
            return false;
        }
        return true;
    }

    private bool SendAck(uint request, ulong value)
    {
        *(ulong*)_reply = value;
        _replySize = 8;
        _replyFdCount = 0;
        return SendReply(request);
    }

    // ---- closing ----

    /// <summary>Refuses a message at the door: counted, logged, and the connection is closed.</summary>
    private void Refuse(ControlError e, string? detail)
    {
        ControlCounters.CountRefused(e);
        CloseOnError(e, detail ?? e.Describe());
    }

    private void CloseOnError(ControlError e, string detail)
    {
        ControlCounters.CountErrorClose();
        Log(LogLevel.Error, $"closing connection: {detail}");
        Close($"{e.Describe()}: {detail}");
    }

    /// <summary>
    /// Ends the connection: stops the device (destroy_device when running), unmaps guest memory, closes every fd,
    /// fires destroy_connection and frees the vid. Idempotent. Runs on the control-plane thread.
    /// </summary>
    internal void Close(string? reason)
    {
        if (_fd < 0) return;
        CloseReason = reason;
        int fd = _fd;
        _fd = -1;
        if (!_replaying) EventLoop.Shared.Remove(fd);
        LibC.close(fd);
        _reader.CloseUnclaimedFds();
        EndPostcopy();   // first: a datapath thread parked on a page the frontend never sent must not hold up destroy_device
        StopDevice();
        TearDownState();
        Device.Dispose();
        if (!_silent) Driver.Callback(ops => { ops.DestroyConnection(Vid); return 0; }, "destroy_connection");
        DeviceRegistry.Release(Vid, this);
        Driver.OnSessionClosed(this, reconnect: !_silent);
        // The message being dispatched may still be on the stack above us: free its buffers once it unwinds.
        EventLoop.Shared.Post(FreeBuffers);
    }

    private void FreeBuffers()
    {
        _reader.Dispose();
        if (_reply != null) NativeMemory.Free(_reply);
        _reply = null;
    }

    public void Dispose() => EventLoop.Shared.Invoke(() => { Close("disposed"); return 0; });
}
