using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// Split-ring guest notifications: the shared behaviour (<see cref="NotificationBehaviour{TDriver}"/>), NO_INTERRUPT,
/// EVENT_IDX used_event, and guest kicks suppressed by default.
/// </summary>
public unsafe class NotificationTests : NotificationBehaviour<SplitRingDriver>
{
    private protected override Loopback<SplitRingDriver> Rig(ulong features, bool interrupts) => new Loopback(features, interrupts: interrupts);

    [Fact]
    public void No_interrupt_flag_suppresses_the_call()
    {
        using var lb = new Loopback(interrupts: true);
        using Mempool pool = TestPools.Create();
        lb.Tx[0].NoInterrupt = true;
        TxBurst(lb, pool, 5);
        Assert.Equal(0UL, lb.Tx[0].DrainCalls());
        lb.Tx[0].NoInterrupt = false;
        TxBurst(lb, pool, 1);
        Assert.Equal(1UL, lb.Tx[0].DrainCalls());
    }

    [Fact]
    public void Event_idx_notifies_only_when_the_used_index_passes_used_event()
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.RingEventIdx), interrupts: true);
        using Mempool pool = TestPools.Create();
        SplitRingDriver tx = lb.Tx[0];
        // The first notification after setup always goes out (nothing signalled yet).
        tx.UsedEvent = 100;
        TxBurst(lb, pool, 2);
        Assert.Equal(1UL, tx.DrainCalls());
        // used 2 → 5 does not pass used_event 6: no call.
        tx.UsedEvent = 6;
        TxBurst(lb, pool, 3);
        Assert.Equal(0UL, tx.DrainCalls());
        // used 5 → 9 passes 6: one call.
        TxBurst(lb, pool, 4);
        Assert.Equal(1UL, tx.DrainCalls());
        // The NO_INTERRUPT flag is ignored under EVENT_IDX.
        tx.NoInterrupt = true;
        tx.EnableInterrupts();   // used_event = next used (9)
        TxBurst(lb, pool, 1);
        Assert.Equal(1UL, tx.DrainCalls());
    }

    [Fact]
    public void Guest_kicks_are_suppressed_without_event_idx()
    {
        using var lb = new Loopback(interrupts: true);
        using Mempool pool = TestPools.Create();
        TxBurst(lb, pool, 1);   // the first burst sets up suppression
        Assert.Equal(SplitRingLayout.UsedFlagNoNotify, lb.Tx[0].UsedFlags);
        long before = lb.Tx[0].Kicks;
        TxBurst(lb, pool, 5);
        TxBurst(lb, pool, 5);
        Assert.Equal(before, lb.Tx[0].Kicks);
    }

    [Fact]
    public void With_event_idx_used_flags_stay_zero_and_avail_event_is_left_alone()
    {
        using var lb = new Loopback(Loopback.With(VirtioFeatures.RingEventIdx), interrupts: true);
        using Mempool pool = TestPools.Create();
        TxBurst(lb, pool, 1);
        TxBurst(lb, pool, 1);
        Assert.Equal(0, lb.Tx[0].UsedFlags);
        Assert.Equal(0, lb.Tx[0].AvailEvent);
        long before = lb.Tx[0].Kicks;   // the first publish crossed avail_event 0
        TxBurst(lb, pool, 5);
        TxBurst(lb, pool, 5);
        Assert.Equal(before, lb.Tx[0].Kicks);
    }
}
