namespace HotPath.Tests.Infrastructure;

/// <summary>
/// Threads a test starts against memory it frees afterwards (rings, pools, guest memory). <see cref="Run"/> returns
/// only once every thread has ended, so the test's cleanup can never unmap what a thread still touches: a stress run
/// once crashed the test host that way (a 60 s join gave up on a slow thread, the finally freed its ring, the thread
/// faulted). Time is not a verdict here: a slow machine makes a run slower, never wrong. Only a thread that has not
/// finished after <see cref="HangLimit"/> counts as hung; its token is cancelled (every body polls it in its loop) and
/// the threads are still joined before the failure is reported.
/// </summary>
public static class Workers
{
    public static readonly TimeSpan HangLimit = TimeSpan.FromMinutes(5);

    /// <summary>Runs each body on its own thread; rethrows the first body's exception, or fails on a hang.</summary>
    public static void Run(params Action<CancellationToken>[] bodies)
    {
        using var cancel = new CancellationTokenSource();
        Exception? failure = null;
        Thread[] threads = bodies.Select((body, i) => new Thread(() =>
        {
            try
            {
                body(cancel.Token);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
                cancel.Cancel();   // the others stop too, so the failure is reported rather than waited on
            }
        }) { Name = $"worker{i}", IsBackground = true }).ToArray();
        foreach (Thread t in threads) t.Start();

        var clock = System.Diagnostics.Stopwatch.StartNew();
        bool hung = false;
        foreach (Thread t in threads)
        {
            TimeSpan left = HangLimit - clock.Elapsed;
            if (!t.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero)) hung = true;
            if (hung) break;
        }
        if (hung)
        {
            cancel.Cancel();
            foreach (Thread t in threads) t.Join();
            throw new Xunit.Sdk.XunitException($"a worker thread was still running after {HangLimit.TotalMinutes} min" +
                (failure != null ? $"; first failure: {failure}" : ""));
        }
        if (failure != null) throw new Xunit.Sdk.XunitException($"a worker thread failed: {failure}");
    }
}
