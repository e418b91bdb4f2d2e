using HotPath.Engine.Vrings;

namespace HotPath.Tests.Engine;

/// <summary>
/// The vring access lock prefers the control plane: a waiter makes new datapath try-takes fail, so a thread that
/// polls the ring cannot starve the control thread (which it did under valgrind and on a loaded 2-core machine:
/// SET_VRING_ENABLE never got the lock while hp-fwd polled).
/// </summary>
public class VringAccessLockTests
{
    private sealed class Box
    {
        public VringAccessLock Lock;
    }

    [Fact]
    public void A_waiting_control_plane_blocks_new_datapath_try_takes()
    {
        var box = new Box();
        Assert.True(box.Lock.TryEnter());                  // a burst is in flight
        var acquired = new ManualResetEventSlim();
        var release = new ManualResetEventSlim();
        var control = new Thread(() =>
        {
            box.Lock.Enter();
            acquired.Set();
            release.Wait();
            box.Lock.Exit();
        });
        control.Start();
        SpinWait.SpinUntil(() => box.Lock.HasWaiters, TimeSpan.FromSeconds(5));
        Assert.True(box.Lock.HasWaiters);
        Assert.False(acquired.IsSet);                      // the burst still holds it
        box.Lock.Exit();                                   // the burst ends and cannot take it again: the waiter
        Assert.False(box.Lock.TryEnter());                 // either still waits (and blocks it) or holds it now
        Assert.True(acquired.Wait(TimeSpan.FromSeconds(5)));
        Assert.False(box.Lock.TryEnter());                 // held by the control plane
        release.Set();
        control.Join();
        Assert.False(box.Lock.HasWaiters);
        Assert.True(box.Lock.TryEnter());                  // the datapath runs again
        box.Lock.Exit();
    }

    [Fact]
    public void The_control_plane_gets_the_lock_from_a_thread_that_polls_it_nonstop()
    {
        var box = new Box();
        bool stop = false;
        long bursts = 0;
        var poller = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                if (!box.Lock.TryEnter()) continue;
                Thread.SpinWait(200);                       // a burst's worth of work under the lock
                box.Lock.Exit();
                bursts++;
            }
        });
        poller.Start();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 1000; i++)
        {
            box.Lock.Enter();
            box.Lock.Exit();
        }
        sw.Stop();
        Volatile.Write(ref stop, true);
        poller.Join();
        Assert.True(bursts > 0, "the poller never ran");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"1000 control-plane acquisitions took {sw.Elapsed}");
    }
}
