using HotPath.Engine.Interop;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// Delivers a guest notification once a ring type's suppression check said one is due (DPDK's
/// vhost_vring_inject_irq): the application's guest_notify hook may take it over (then it calls
/// <see cref="VhostDevice.NotifyGuest"/> later); otherwise the call eventfd is written (skipped for a polling
/// guest that sent no call fd) and guest_notified is called. Independent of the ring type. Cold: at most once per
/// burst, and only when the guest asked for interrupts.
/// </summary>
internal static class GuestNotifier
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Inject(VhostDevice dev, Vring vq)
    {
        IGuestNotifyHook? hook = dev.NotifyHook;
        if (hook != null)
        {
            // One offloaded notification in flight per ring: the hook owns it until NotifyGuest clears the flag.
            // CompareExchange is a full fence: the used-ring writes before it are visible to whoever delivers it.
            if (Interlocked.CompareExchange(ref vq.IrqPending, 1, 0) == 0)
            {
                bool taken;
                vq.NotifyingThread = Environment.CurrentManagedThreadId;
                try { taken = hook.GuestNotify(dev.Vid, (ushort)vq.Index); }
                catch { taken = false; }   // the datapath never throws, whatever the application's hook does
                finally { vq.NotifyingThread = 0; }
                if (taken)
                {
                    if (dev.StatsEnabled) vq.Stats.Add(VringStats.GuestNotificationsOffloaded, 1);
                    return;
                }
                // Offloading refused: deliver it here. Release: the pending flag clears after our checks above.
                Volatile.Write(ref vq.IrqPending, 0);
            }
            else
            {
                if (dev.StatsEnabled) vq.Stats.Add(VringStats.GuestNotificationsSuppressed, 1);
                return;
            }
        }
        Signal(dev, vq, hook);
    }

    /// <summary>Writes the call eventfd without blocking and reports it (counted as a notification or a notification
    /// error).</summary>
    public static void Signal(VhostDevice dev, Vring vq, IGuestNotifyHook? hook)
    {
        int fd = vq.CallFd;
        if (fd < 0) return;   // NOFD / not set: the guest polls the used ring
        if (!PeerFds.TrySignal(fd))   // never blocks: a saturated counter means a notification is pending
        {
            if (dev.StatsEnabled) vq.Stats.Add(VringStats.GuestNotificationsError, 1);
            return;
        }
        if (dev.StatsEnabled) vq.Stats.Add(VringStats.GuestNotifications, 1);
        if (hook != null)
        {
            try { hook.GuestNotified(dev.Vid); }
            catch { /* the datapath never throws */ }
        }
    }
}
