namespace HotPath.Protocol.Control;

/// <summary>
/// Device lifecycle callbacks (DPDK's rte_vhost_device_ops). All run on the control-plane thread, never while a
/// vring lock is held, so they may call back into the API. Exceptions thrown by a callback are caught and logged.
/// guest_notify / guest_notified are on <see cref="HotPath.Engine.IGuestNotifyHook"/> (they run on datapath threads).
/// </summary>
public interface IVhostDeviceOps
{
    /// <summary>The device became ready. Return 0 to accept; nonzero retries after the next message.</summary>
    int NewDevice(int vid) => 0;

    /// <summary>The device stops (GET_VRING_BASE, reset, disconnect): stop polling it before returning.</summary>
    void DestroyDevice(int vid) { }

    int VringStateChanged(int vid, ushort queueId, bool enable) => 0;

    /// <summary>Features changed at runtime (VHOST_F_LOG_ALL toggled for live migration).</summary>
    int FeaturesChanged(int vid, ulong features) => 0;

    /// <summary>A frontend connected. Return nonzero to refuse the connection.</summary>
    int NewConnection(int vid) => 0;

    void DestroyConnection(int vid) { }

    /// <summary>
    /// Every device of <paramref name="path"/> was handed over to a new process (hitless upgrade; each got
    /// <see cref="DestroyDevice"/> first). The driver serves nothing any more: unregister it (nothing the new process
    /// holds is removed) and, when it was the last one, the process may exit.
    /// </summary>
    void TakeoverComplete(string path) { }
}

/// <summary>Results of a per-message hook, as DPDK's rte_vhost_msg_result.</summary>
public enum MessageHookResult
{
    Error = -1,
    Ok = 0,
    Reply = 1,
    NotHandled = 2,
}

/// <summary>
/// Per-message external hooks (DPDK's rte_vhost_user_extern_ops). <c>message</c> points at the whole message:
/// the 12-byte header followed by the payload, in a buffer of at least 12 + MessageLimits.MaxPayload bytes.
/// Pre: OK or ERR skip the built-in handler; REPLY sends the (modified) message back as the reply; NOT_HANDLED
/// runs the built-in handler. Post runs after a successful built-in handler.
/// </summary>
public unsafe interface IVhostMessageHook
{
    MessageHookResult PreMessage(int vid, byte* message) => MessageHookResult.NotHandled;
    MessageHookResult PostMessage(int vid, byte* message) => MessageHookResult.NotHandled;
}
