using HotPath.Engine.Interop;
using HotPath.Engine.Vrings;

namespace HotPath.Engine;

/// <summary>rte_vhost_enable_guest_notification: interrupt mode for applications that sleep on the kick fd.</summary>
public sealed partial class VhostDevice
{
    /// <summary>
    /// Asks the guest to kick vring <paramref name="queueId"/> when it makes buffers available
    /// (<paramref name="enable"/>), or to stop kicking (the default: HotPath's bursts poll). Split rings: clears or sets
    /// VRING_USED_F_NO_NOTIFY, or with EVENT_IDX sets avail_event to the next avail index; packed rings: the device
    /// event suppression area says ENABLE (DESC at the next avail position with EVENT_IDX) or DISABLE. The setting
    /// holds until changed or the ring is reset. Waits for a burst running on the ring. After enabling, check the
    /// ring once more before sleeping on the kick fd: a buffer the guest added just before it could see the change
    /// gets no kick (the virtio driver pattern; a full fence orders the write before that check).
    /// False when the ring does not exist or is not set up yet.
    /// </summary>
    public bool EnableGuestNotification(int queueId, bool enable)
    {
        Vring? vq = GetVring(queueId);
        if (vq == null) return false;
        using (VringLockScope held = vq.Hold())
        {
            if (!vq.IsTranslated) return false;
            vq.SetGuestKicks(enable, Features, held);
            return true;
        }
    }

    /// <summary>
    /// Takes the guest's pending kicks on vring <paramref name="queueId"/> without blocking: how many kicks the kick
    /// eventfd counted since the last drain (at least 1), 0 when none is pending (or the control plane is changing
    /// the ring right now: the kick stays pending for the next call), or a negative errno: -EINVAL when the vring
    /// does not exist, -EAGAIN when the frontend has not sent its kick fd yet, -EBADF when it sent none (NOFD: a
    /// polling frontend that never kicks) or the fd cannot be read. One thread per queue, as the bursts; interrupt
    /// mode is "poll until empty, <see cref="EnableGuestNotification"/>, check the ring again, wait for the kick fd,
    /// drain, disable, poll".
    /// </summary>
    public long DrainKick(int queueId)
    {
        Vring? vq = GetVring(queueId);
        if (vq == null) return -LibC.EINVAL;
        // Only a try: the caller is a polling thread and must never wait for the control plane. The lock keeps the
        // fd from being closed and its number reused while we read it (SET_VRING_KICK replaces it under the lock).
        if (!vq.AccessLock.TryEnter()) return 0;
        try
        {
            int fd = vq.KickFd;
            if (fd == Vring.FdUninitialized) return -LibC.EAGAIN;
            if (fd < 0) return -LibC.EBADF;
            return LibC.EventFdTryDrain(fd);
        }
        finally { vq.AccessLock.Exit(); }
    }
}
