using HotPath.Engine.Interop;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// The eventfds of one vring, created and owned by the frontend: the kick fd the driver writes to tell the
/// backend there are new buffers (SET_VRING_KICK), the call fd the backend writes to interrupt the driver
/// (SET_VRING_CALL), and optionally an error fd (SET_VRING_ERR). Ring drivers use <see cref="Kick"/> and
/// <see cref="WaitForCall"/>. All are non-blocking and close-on-exec.
/// </summary>
public sealed class VringNotifier : IDisposable
{
    public uint Index { get; }
    public int KickFd { get; private set; }
    public int CallFd { get; private set; }
    /// <summary>-1 unless the notifier was created with an error fd.</summary>
    public int ErrFd { get; private set; }

    public VringNotifier(uint index, bool withErrFd = false)
    {
        Index = index;
        KickFd = CallFd = ErrFd = -1;
        try
        {
            KickFd = Create();
            CallFd = Create();
            if (withErrFd) ErrFd = Create();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private static int Create()
    {
        int fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (fd < 0) throw new IOException($"eventfd failed: {LibC.StrError(LibC.Errno)}");
        return fd;
    }

    /// <summary>Notifies the backend (driver → device). False when the write failed.</summary>
    public bool Kick() => LibC.EventFdSignal(KickFd);

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for the backend to signal the call fd, then consumes the signal.
    /// Returns the number of calls coalesced into it (0 on timeout).
    /// </summary>
    public ulong WaitForCall(TimeSpan timeout)
    {
        int ready = PollCalls.WaitReadable(CallFd, (int)Math.Min(int.MaxValue, timeout.TotalMilliseconds));
        return ready > 0 ? LibC.EventFdDrain(CallFd) : 0;
    }

    /// <summary>Consumes any pending call signal without waiting; returns its count (0 when none).</summary>
    public ulong DrainCalls() => LibC.EventFdDrain(CallFd);

    /// <summary>Consumes pending kicks (what a backend would read); tests use it to see the driver's kicks.</summary>
    public ulong DrainKicks() => LibC.EventFdDrain(KickFd);

    public void Dispose()
    {
        if (KickFd >= 0) LibC.close(KickFd);
        if (CallFd >= 0) LibC.close(CallFd);
        if (ErrFd >= 0) LibC.close(ErrFd);
        KickFd = CallFd = ErrFd = -1;
    }
}
