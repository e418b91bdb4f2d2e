using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// Packed-ring notifications: the shared behaviour (<see cref="NotificationBehaviour{TDriver}"/>) and the packed
/// event suppression structures: the driver area (ENABLE / DISABLE / DESC with off_wrap under EVENT_IDX, across the
/// wrap) decides calls; the device area says DISABLE so the driver never kicks a polling backend.
/// </summary>
public unsafe class PackedNotificationTests : NotificationBehaviour<PackedRingDriver>
{
    private const ushort Enable = VringPackedEvent.Enable, Disable = VringPackedEvent.Disable, Desc = VringPackedEvent.Desc;

    private protected override Loopback<PackedRingDriver> Rig(ulong features, bool interrupts) =>
        new PackedLoopback(features, interrupts: interrupts);

    [Fact]
    public void Driver_event_disable_suppresses_the_call_and_enable_brings_it_back()
    {
        using var lb = Rig(Loopback.BaseFeatures, interrupts: true);
        using Mempool pool = TestPools.Create();
        PackedRingDriver tx = lb.Tx[0];
        tx.DisableInterrupts();
        TxBurst(lb, pool, 5);
        Assert.Equal(0UL, tx.DrainCalls());
        tx.EnableInterrupts();
        Assert.Equal(Enable, tx.DriverEventFlags);
        TxBurst(lb, pool, 1);
        Assert.Equal(1UL, tx.DrainCalls());
        // Without EVENT_IDX, DESC is not DISABLE: the device notifies (as DPDK does).
        tx.SetDriverEvent(0x8000 | 50, Desc);
        TxBurst(lb, pool, 2);
        Assert.Equal(1UL, tx.DrainCalls());
    }

    [Fact]
    public void Event_idx_desc_notifies_only_when_the_used_position_passes_off_wrap()
    {
        using var lb = Rig(Loopback.With(VirtioFeatures.RingEventIdx), interrupts: true);
        using Mempool pool = TestPools.Create();
        PackedRingDriver tx = lb.Tx[0];
        // The first check after setup always notifies.
        tx.SetDriverEvent(0x8000 | 100, Desc);
        TxBurst(lb, pool, 2);
        Assert.Equal(1UL, tx.DrainCalls());
        // Used 2 → 5 (lap 1) does not pass slot 6: no call. 5 → 9 does: one call.
        tx.SetDriverEvent(0x8000 | 6, Desc);
        TxBurst(lb, pool, 3);
        Assert.Equal(0UL, tx.DrainCalls());
        TxBurst(lb, pool, 4);
        Assert.Equal(1UL, tx.DrainCalls());
        // DISABLE and ENABLE mean what they say under EVENT_IDX too.
        tx.SetDriverEvent(0, Disable);
        TxBurst(lb, pool, 3);
        Assert.Equal(0UL, tx.DrainCalls());
        tx.SetDriverEvent(0, Enable);
        TxBurst(lb, pool, 1);
        Assert.Equal(1UL, tx.DrainCalls());
        // EnableInterrupts asks for exactly the next used descriptor.
        tx.EnableInterrupts();
        Assert.Equal(Desc, tx.DriverEventFlags);
        TxBurst(lb, pool, 1);
        Assert.Equal(1UL, tx.DrainCalls());
    }

    [Fact]
    public void Event_idx_off_wrap_in_the_next_lap_is_met_only_after_the_ring_wraps()
    {
        using var lb = new PackedLoopback(Loopback.With(VirtioFeatures.RingEventIdx), ringSize: 8, interrupts: true);
        using Mempool pool = TestPools.Create();
        PackedRingDriver tx = lb.Tx[0];
        TxBurst(lb, pool, 1);                // first check: notifies, used position now 1 (lap 1)
        Assert.Equal(1UL, tx.DrainCalls());
        tx.SetDriverEvent(2, Desc);          // slot 2 of lap 0 (wrap counter 0): one lap ahead
        TxBurst(lb, pool, 4);                // 1 → 5, lap 1: slot 2 of lap 1 passed, not the one asked for
        Assert.Equal(0UL, tx.DrainCalls());
        TxBurst(lb, pool, 4);                // 5 → 1 of lap 0: crosses the end, not yet slot 2
        Assert.Equal(0UL, tx.DrainCalls());
        TxBurst(lb, pool, 2);                // 1 → 3 of lap 0: slot 2 written
        Assert.Equal(1UL, tx.DrainCalls());
        TxBurst(lb, pool, 8);                // a whole lap later it is passed again (same off_wrap: lap 0's slot 2)
        Assert.Equal(0UL, tx.DrainCalls());  // 3 (lap 0) → 3 (lap 1): lap 0's slot 2 is behind
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Guest_kicks_are_suppressed_through_the_device_area(bool eventIdx)
    {
        using var lb = Rig(eventIdx ? Loopback.With(VirtioFeatures.RingEventIdx) : Loopback.BaseFeatures, interrupts: true);
        using Mempool pool = TestPools.Create();
        PackedRingDriver tx = lb.Tx[0];
        TxBurst(lb, pool, 1);   // the first burst sets up suppression
        Assert.Equal(Disable, tx.DeviceEventFlags);
        long before = tx.Kicks;
        TxBurst(lb, pool, 5);
        TxBurst(lb, pool, 5);
        Assert.Equal(before, tx.Kicks);
    }

    [Fact]
    public void Vring_call_on_a_packed_ring_honours_the_driver_area()
    {
        using var lb = Rig(Loopback.BaseFeatures, interrupts: true);
        using Mempool pool = TestPools.Create();
        PackedRingDriver tx = lb.Tx[0];
        tx.DisableInterrupts();
        TxBurst(lb, pool, 2);
        Assert.Equal(0UL, tx.DrainCalls());
        Assert.True(lb.Device.VringCall(1));   // suppressed, still a success
        Assert.Equal(0UL, tx.DrainCalls());
        tx.EnableInterrupts();
        Assert.True(lb.Device.VringCall(1));
        Assert.Equal(1UL, tx.DrainCalls());
        Assert.False(lb.Device.VringCall(7));  // no such ring
    }
}
