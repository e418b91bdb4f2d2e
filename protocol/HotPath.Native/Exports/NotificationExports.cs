using System.Runtime.InteropServices;
using HotPath.Engine;
using HotPath.Engine.Interop;
using HotPath.Native.Interop;

namespace HotPath.Native.Exports;

/// <summary>
/// Interrupt mode: what an application that sleeps on a vring's kick fd needs beside
/// hp_vhost_enable_guest_notification. Never blocks the calling (polling) thread.
/// </summary>
internal static unsafe class NotificationExports
{
    /// <summary>
    /// Takes the guest's pending kicks of a vring without blocking: the count (clamped to INT32_MAX), 0 when none is
    /// pending, or -1 and the reason (unknown vid or vring, no kick fd yet, NOFD, an unreadable fd).
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_vring_drain_kick")]
    public static int VringDrainKick(int vid, ushort queueId)
    {
        const string fn = "hp_vhost_vring_drain_kick";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            if (dev == null) return -1;
            long n = dev.DrainKick(queueId);
            if (n >= 0) return (int)Math.Min(n, int.MaxValue);
            int errno = (int)-n;
            switch (errno)
            {
                case LibC.EINVAL:
                    LastError.BadQueue(fn, vid, queueId);
                    return -1;
                case LibC.EAGAIN:
                    return LastError.Set(fn, $"vring {queueId} of vid {vid} has no kick fd yet (SET_VRING_KICK not received)", errno);
                default:
                    return dev.GetVring(queueId) is { KickFd: Engine.Vrings.Vring.FdNone }
                        ? LastError.Set(fn, $"vring {queueId} of vid {vid} has no kick fd: the frontend polls (NOFD) and never kicks", errno)
                        : LastError.Set(fn, $"reading the kick fd of vring {queueId} of vid {vid}: {LibC.StrError(errno)}", errno);
            }
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }
}
