using HotPath.Engine.Interop;
using HotPath.Engine.Vrings;
using HotPath.Protocol.Takeover;
using HotPath.Protocol.Transport;

namespace HotPath.Protocol.Control;

/// <summary>
/// A connection moving between processes (hitless upgrade, <see cref="Takeover"/>). The old process stops the device
/// at a burst boundary and reads its state; the new one rebuilds the device from that state through its own message
/// handlers, with no readiness callback and no reply until it goes live.
/// </summary>
public sealed unsafe partial class VhostSession
{
    /// <summary>Rebuilt from a takeover and not live yet: no callbacks, no replies, not in the event loop.</summary>
    private bool _replaying;

    /// <summary>Closed without destroy_connection and without a reconnect (a takeover that did not happen).</summary>
    private bool _silent;

    // ---- old process ----

    /// <summary>Stops the device (destroy_device) and waits for a burst still inside the library to end.</summary>
    internal void QuiesceForTakeover()
    {
        StopDevice();
        using (Device.HoldAll()) { }
    }

    /// <summary>The takeover did not happen: the device starts again here (new_device).</summary>
    internal void ResumeAfterTakeover()
    {
        if (!IsClosed) UpdateReadiness();
    }

    /// <summary>Bytes of a message the frontend has sent only in part, and their fds (borrowed).</summary>
    internal byte[] UnreadBytes(out int[] fds)
    {
        fds = _reader.Fds.ToArray();
        return _reader.PartialBytes();
    }

    // ---- new process ----

    /// <summary>A session for a connection another process hands over; it stays out of the event loop until
    /// <see cref="GoLive"/>.</summary>
    internal static VhostSession ForTakeover(VhostDriver driver, int fd, int vid) => new(driver, fd, vid) { _replaying = true };

    /// <summary>Continues a message the old process had read in part. Owns <paramref name="fds"/>.</summary>
    internal string? LoadUnread(ReadOnlySpan<byte> bytes, ReadOnlySpan<int> fds) =>
        _reader.LoadPartial(bytes, fds) ? null : $"{bytes.Length} unread bytes that are no message header";

    /// <summary>
    /// Runs one message of the old process's image through its handler, as if the frontend had sent it, without a
    /// reply. Owns <paramref name="fds"/>. Returns why it was refused, or null.
    /// </summary>
    internal string? Replay(ReadOnlySpan<byte> message, ReadOnlySpan<int> fds)
    {
        if (!_reader.LoadMessage(message, fds)) return "a malformed message";
        try
        {
            uint request = _reader.Header.Request;
            MessageEntry? entry = MessageTable.Find(request);
            if (entry?.Handler == null) return $"request {request} cannot be replayed";
            if (!IsAllowed(entry, out string? why)) return why;
            (ControlError shape, string? detail) = entry.CheckShape(_reader);
            if (shape != ControlError.None) return $"{entry.Name}: {detail ?? shape.Describe()}";
            _replySize = 0;
            _replyFdCount = 0;
            HandlerResult result = entry.Handler(this, _reader);
            for (int i = 0; i < _replyFdCount; i++) LibC.close(_replyFds[i]);
            _replyFdCount = 0;
            return result.Outcome == HandlerOutcome.Error ? $"{entry.Name}: {result.Detail ?? result.Error.Describe()}" : null;
        }
        finally
        {
            _reader.Next();
        }
    }

    /// <summary>The exact ring position the old process stopped at (used side too, unlike SET_VRING_BASE).</summary>
    internal string? ApplyRingIndexes(in RingIndexes r)
    {
        if (r.Index >= 2 * Driver.MaxQueuePairs) return $"vring {r.Index} (this driver offers {2 * Driver.MaxQueuePairs})";
        Vring v = Device.GetOrCreateVring(r.Index)!;
        bool packed = Device.IsPacked;
        ushort avail = (ushort)(r.LastAvailIdx | (packed && r.AvailWrap != 0 ? 0x8000 : 0));
        ushort used = (ushort)(r.LastUsedIdx | (packed && r.UsedWrap != 0 ? 0x8000 : 0));
        VringError e;
        using (VringLockScope held = v.Hold()) e = v.SetBase(avail, used, packed, held);
        return e == VringError.None ? null : $"vring {r.Index} indexes {r.LastAvailIdx}/{r.LastUsedIdx}: {e.Describe()}";
    }

    /// <summary>The config space the old process served (GET_CONFIG).</summary>
    internal string? ApplyConfig(ReadOnlySpan<byte> config)
    {
        if (config.Length != _config.Length) return $"config space of {config.Length} bytes";
        config.CopyTo(_config);
        return null;
    }

    /// <summary>The takeover is committed: serve the frontend from here (new_connection, then new_device once ready).</summary>
    internal void GoLive()
    {
        _replaying = false;
        EventLoop.Shared.Add(_fd, SocketCalls.EPOLLIN | SocketCalls.EPOLLRDHUP, this);
        if (Driver.Callback(ops => ops.NewConnection(Vid), "new_connection") != 0)
        {
            Close("new_connection callback refused the connection");
            return;
        }
        UpdateReadiness();
    }

    /// <summary>A takeover that did not happen: closes this process's copies without a callback or a reconnect.</summary>
    internal void Discard(string reason)
    {
        _silent = true;
        Close(reason);
    }

    internal bool IsReplaying => _replaying;
}
