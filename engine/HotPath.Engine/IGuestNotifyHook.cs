namespace HotPath.Engine;

/// <summary>
/// The application's say in guest notifications, as DPDK's guest_notify / guest_notified device ops.
/// Called on the datapath thread that completed the burst.
/// </summary>
public interface IGuestNotifyHook
{
    /// <summary>
    /// Return true when the application takes over this notification (it will call notify_guest later);
    /// false to let the datapath write the call eventfd now.
    /// </summary>
    bool GuestNotify(int vid, ushort queueId);

    /// <summary>Called after the datapath wrote the call eventfd (for counting these slow syscalls).</summary>
    void GuestNotified(int vid);
}
