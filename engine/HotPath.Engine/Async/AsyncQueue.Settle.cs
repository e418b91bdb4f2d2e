using HotPath.Engine.Buffers;

namespace HotPath.Engine.Async;

/// <summary>The control plane's side of an async queue: settle before a ring changes, release at unregister and teardown.</summary>
internal sealed unsafe partial class AsyncQueue
{
    /// <summary>Built-in engine: jobs committed and not on its ring yet (its ring was full at the submit).</summary>
    private uint Unsubmitted => _engine?.Staged ?? 0;

    /// <summary>Times <see cref="Settle"/> had to wait for the channel (diagnostics and tests).</summary>
    public long SettleWaits;

    /// <summary>
    /// Waits until the channel has completed every copy it holds, then publishes every packet's used entries. Called
    /// with the access lock held, before the control plane changes the ring or unmaps memory (Vring.Hold,
    /// VhostDevice.HoldAll): afterwards no copy into guest memory is in flight and every chain the device reserved
    /// is back in the used ring. The datapath cannot poll meanwhile (it only try-takes the lock), so the channel
    /// still has one caller at a time.
    /// </summary>
    public void Settle()
    {
        if (InChannel != 0 || Unsubmitted != 0)
        {
            SettleWaits++;
            var spin = new SpinWait();
            while (InChannel != 0 || Unsubmitted != 0)
            {
                uint before = InChannel;
                SubmitLeftovers();   // the engine's ring was full
                Reap();
                if (InChannel == before) spin.SpinOnce(sleep1Threshold: 30);
            }
        }
        Publish();
    }

    /// <summary>
    /// Unregister or device teardown, after <see cref="Settle"/>: the packets the application has not polled back are
    /// freed (their copies are complete and published; the application will not see them again). Returns how many.
    /// </summary>
    public uint FreeUnpolled()
    {
        Debug.Assert(InChannel == 0 && PublishHead == SlotTail);
        uint n = 0;
        for (; ReturnHead != PublishHead; ReturnHead++, n++) MbufOps.Free(MbufOf(ReturnHead));
        return n;
    }

    /// <summary>
    /// Unregister or device teardown (lock held, settled): frees the unpolled packets (<see cref="FreeUnpolled"/>), the
    /// channel when the queue owns it, and the native block. Returns the packets freed.
    /// </summary>
    public uint Release()
    {
        uint n = FreeUnpolled();
        if (OwnsChannel) (Channel as IDisposable)?.Dispose();
        Dispose();
        return n;
    }
}
