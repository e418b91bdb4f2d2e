using System.Collections.Concurrent;
using HotPath.Engine.Interop;
using HotPath.Protocol.Transport;

namespace HotPath.Protocol.Control;

/// <summary>Something the event loop calls when its fd becomes readable, writable or hung up.</summary>
internal interface IFdHandler
{
    void OnEvents(uint events);
}

/// <summary>
/// The one control-plane thread (DESIGN.md): an epoll loop that serves every listening socket, every connection
/// and every reconnect timer of the process. It never touches a datapath thread's state except through the
/// per-vring access locks. Other threads hand it work with <see cref="Post"/> or <see cref="Invoke{T}"/>.
/// A handler that throws is logged and does not take the loop down.
/// </summary>
internal sealed unsafe class EventLoop
{
    private static readonly Lazy<EventLoop> s_shared = new(() => new EventLoop(), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The process-wide loop, started on first use.</summary>
    public static EventLoop Shared => s_shared.Value;

    private readonly int _epfd;
    private readonly int _wakeFd;
    private readonly Thread _thread;
    private readonly Dictionary<int, IFdHandler> _handlers = new();     // loop thread only
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly PriorityQueue<Action, long> _timers = new();       // loop thread only
    private const ulong WakeToken = ulong.MaxValue;

    private EventLoop()
    {
        _epfd = SocketCalls.epoll_create1(SocketCalls.EPOLL_CLOEXEC);
        if (_epfd < 0) throw new IOException($"epoll_create1 failed: {LibC.StrError(LibC.Errno)}");
        _wakeFd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (_wakeFd < 0) throw new IOException($"eventfd failed: {LibC.StrError(LibC.Errno)}");
        EpollEvent ev = new() { Events = SocketCalls.EPOLLIN, Data = WakeToken };
        SocketCalls.epoll_ctl(_epfd, SocketCalls.EPOLL_CTL_ADD, _wakeFd, &ev);
        _thread = new Thread(Run) { IsBackground = true, Name = "hotpath-control" };
        _thread.Start();
    }

    public bool OnLoopThread => Environment.CurrentManagedThreadId == _thread.ManagedThreadId;

    /// <summary>Runs <paramref name="action"/> on the loop thread, soon. Safe from any thread.</summary>
    public void Post(Action action)
    {
        _posted.Enqueue(action);
        LibC.EventFdSignal(_wakeFd);
    }

    /// <summary>
    /// Runs <paramref name="func"/> on the loop thread and waits for its result; runs it inline when already on the
    /// loop thread (a callback calling back into the API). Exceptions propagate to the caller.
    /// </summary>
    public T Invoke<T>(Func<T> func)
    {
        if (OnLoopThread) return func();
        using var done = new ManualResetEventSlim();
        T result = default!;
        Exception? error = null;
        Post(() =>
        {
            try { result = func(); }
            catch (Exception e) { error = e; }
            finally { done.Set(); }
        });
        done.Wait();
        if (error != null) throw new AggregateException(error.Message, error);
        return result;
    }

    /// <summary>Calls <paramref name="action"/> on the loop thread after <paramref name="delay"/>. Loop thread only.</summary>
    public void Schedule(TimeSpan delay, Action action)
    {
        long due = Environment.TickCount64 + (long)delay.TotalMilliseconds;
        _timers.Enqueue(action, due);
    }

    /// <summary>Watches <paramref name="fd"/>. Loop thread only.</summary>
    public bool Add(int fd, uint events, IFdHandler handler)
    {
        EpollEvent ev = new() { Events = events, Data = (ulong)fd };
        if (SocketCalls.epoll_ctl(_epfd, SocketCalls.EPOLL_CTL_ADD, fd, &ev) != 0) return false;
        _handlers[fd] = handler;
        return true;
    }

    /// <summary>Stops watching <paramref name="fd"/> (call before closing it). Loop thread only.</summary>
    public void Remove(int fd)
    {
        if (_handlers.Remove(fd)) SocketCalls.epoll_ctl(_epfd, SocketCalls.EPOLL_CTL_DEL, fd, null);
    }

    private void Run()
    {
        const int maxEvents = 64;
        EpollEvent* events = stackalloc EpollEvent[maxEvents];
        while (true)
        {
            int timeout = NextTimeout();
            int n = SocketCalls.epoll_wait(_epfd, events, maxEvents, timeout);
            if (n < 0)
            {
                if (LibC.Errno == LibC.EINTR) continue;
                ControlLog.Write(LogLevel.Error, "", $"epoll_wait failed: {LibC.StrError(LibC.Errno)}");
                Thread.Sleep(10);
                continue;
            }
            for (int i = 0; i < n; i++)
            {
                ulong token = events[i].Data;
                if (token == WakeToken)
                {
                    LibC.EventFdDrain(_wakeFd);
                    continue;
                }
                // A handler earlier in this batch may have removed (and closed) this fd.
                if (!_handlers.TryGetValue((int)token, out IFdHandler? h)) continue;
                uint mask = events[i].Events;
                try { h.OnEvents(mask); }
                catch (Exception e) { ControlLog.Write(LogLevel.Error, "", $"control-plane handler failed: {e}"); }
            }
            while (_posted.TryDequeue(out Action? a)) Guard(a);
            RunDueTimers();
        }
    }

    private int NextTimeout()
    {
        if (!_posted.IsEmpty) return 0;
        if (!_timers.TryPeek(out _, out long due)) return -1;
        return (int)Math.Clamp(due - Environment.TickCount64, 0, int.MaxValue);
    }

    private void RunDueTimers()
    {
        long now = Environment.TickCount64;
        while (_timers.TryPeek(out Action? a, out long due) && due <= now)
        {
            _timers.Dequeue();
            Guard(a);
        }
    }

    private static void Guard(Action a)
    {
        try { a(); }
        catch (Exception e)
        {
            ControlLog.Write(LogLevel.Error, "", $"control-plane handler failed: {e}");
        }
    }
}
