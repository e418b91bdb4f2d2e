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
        using (vq.Hold())
        {
            if (!vq.IsTranslated) return false;
            vq.SetGuestKicks(enable, Features);
            return true;
        }
    }
}
