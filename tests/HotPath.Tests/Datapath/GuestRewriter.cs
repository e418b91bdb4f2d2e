namespace HotPath.Tests.Datapath;

/// <summary>
/// The guest's other CPU in the TOCTOU tests (SECURITY.md 16 and 17): a thread that keeps calling one rewrite of guest
/// memory (seeded, so a run repeats its choices) until disposed. Shared by the split, packed and net-header cases.
/// </summary>
internal sealed class GuestRewriter : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _stop;

    /// <summary>Rewrites done so far (a test checks the race really ran).</summary>
    public long Writes;

    public GuestRewriter(Action<Random> rewriteOnce, int seed, string name)
    {
        _thread = new Thread(() =>
        {
            var r = new Random(seed);
            while (!_stop)
            {
                rewriteOnce(r);
                Writes++;
            }
        }) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }
}
