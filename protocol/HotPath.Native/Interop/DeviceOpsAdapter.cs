using HotPath.Engine;
using HotPath.Protocol.Control;

namespace HotPath.Native.Interop;

/// <summary>
/// A C caller's <c>struct hp_vhost_device_ops</c> seen as the control plane's <see cref="IVhostDeviceOps"/> and the
/// engine's <see cref="IGuestNotifyHook"/>. A NULL member behaves as DPDK's absent callback (accept, do nothing).
/// The lifecycle callbacks run on the control-plane thread; guest_notify/guest_notified on the datapath thread.
/// </summary>
internal sealed unsafe class DeviceOpsAdapter(NativeDeviceOps ops) : IVhostDeviceOps, IGuestNotifyHook
{
    private readonly NativeDeviceOps _ops = ops;

    /// <summary>True when the application wants to hear about guest notifications at all.</summary>
    public bool HooksNotifications => _ops.GuestNotify != null || _ops.GuestNotified != null;

    public int NewDevice(int vid) => _ops.NewDevice != null ? _ops.NewDevice(vid) : 0;

    public void DestroyDevice(int vid)
    {
        if (_ops.DestroyDevice != null) _ops.DestroyDevice(vid);
    }

    public int VringStateChanged(int vid, ushort queueId, bool enable) =>
        _ops.VringStateChanged != null ? _ops.VringStateChanged(vid, queueId, enable ? 1 : 0) : 0;

    public int FeaturesChanged(int vid, ulong features) =>
        _ops.FeaturesChanged != null ? _ops.FeaturesChanged(vid, features) : 0;

    public int NewConnection(int vid) => _ops.NewConnection != null ? _ops.NewConnection(vid) : 0;

    public void DestroyConnection(int vid)
    {
        if (_ops.DestroyConnection != null) _ops.DestroyConnection(vid);
    }

    public void TakeoverComplete(string path)
    {
        if (_ops.TakeoverComplete == null) return;
        byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = utf8) _ops.TakeoverComplete(p);
    }

    public bool GuestNotify(int vid, ushort queueId) => _ops.GuestNotify != null && _ops.GuestNotify(vid, queueId) != 0;

    public void GuestNotified(int vid)
    {
        if (_ops.GuestNotified != null) _ops.GuestNotified(vid);
    }
}

/// <summary>
/// A C caller's <c>struct hp_vhost_user_extern_ops</c> as the session's <see cref="IVhostMessageHook"/>. The hooks get
/// the whole message (12-byte header, then the payload) as DPDK's get the message context whose first member is
/// the message. Results use DPDK's values (ERR -1, OK 0, REPLY 1, NOT_HANDLED 2); anything else reads as ERR.
/// </summary>
internal sealed unsafe class MessageHookAdapter(NativeExternOps ops, void* context) : IVhostMessageHook
{
    private readonly NativeExternOps _ops = ops;

    /// <summary>The ctx given at registration (DPDK's extern_data), kept with the hooks.</summary>
    public void* Context { get; } = context;

    public MessageHookResult PreMessage(int vid, byte* message) =>
        _ops.PreMessage != null ? ToResult(_ops.PreMessage(vid, message)) : MessageHookResult.NotHandled;

    public MessageHookResult PostMessage(int vid, byte* message) =>
        _ops.PostMessage != null ? ToResult(_ops.PostMessage(vid, message)) : MessageHookResult.NotHandled;

    private static MessageHookResult ToResult(int rc) => rc switch
    {
        0 => MessageHookResult.Ok,
        1 => MessageHookResult.Reply,
        2 => MessageHookResult.NotHandled,
        _ => MessageHookResult.Error,
    };
}
