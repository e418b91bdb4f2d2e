using HotPath.Engine.Interop;
using HotPath.Engine.Vrings;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Notification;

/// <summary>
/// VhostDevice.DrainKick (hp_vhost_vring_drain_kick) and the interrupt-mode pattern it serves (issue 14), over a real
/// Unix socket with HotPath's frontend: the drain returns the kicks counted and never blocks (the frontend's kick
/// fd), a guest buffer posted while the backend sleeps on its kick fd wakes it, and the refusals say why. Split and
/// packed, with and without EVENT_IDX.
/// </summary>
[Collection(SerialCollection.Name)]
public class KickDrainTests
{
    public static IEnumerable<object[]> Rings =>
        from packed in new[] { false, true } from eventIdx in new[] { false, true } select new object[] { packed, eventIdx };

    [Theory]
    [MemberData(nameof(Rings))]
    public void Drain_takes_the_pending_kicks_and_never_blocks(bool packed, bool eventIdx)
    {
        using var rig = new KickSocketRig("kick-drain", packed, eventIdx);
        Assert.Equal(0, rig.Device.DrainKick(1));   // nothing pending: 0 at once, not a blocked read
        Assert.True(rig.Frontend.Notifiers[1].Kick());
        Assert.True(rig.Frontend.Notifiers[1].Kick());
        Assert.True(rig.Frontend.Notifiers[1].Kick());
        Assert.Equal(3, rig.Device.DrainKick(1));   // an eventfd counts: three kicks, one read
        Assert.Equal(0, rig.Device.DrainKick(1));
        Assert.False(rig.WaitForKick(0), "the drain left the kick fd readable");
        Assert.Equal(-LibC.EINVAL, rig.Device.DrainKick(99));
    }

    [Theory]
    [MemberData(nameof(Rings))]
    public void A_buffer_posted_while_the_backend_sleeps_wakes_it(bool packed, bool eventIdx)
    {
        using var rig = new KickSocketRig("kick-sleep", packed, eventIdx);
        for (int round = 0; round < 20; round++)
        {
            // Busy: kicks are off, packets flow.
            long kicksBefore = rig.GuestKicks;
            rig.GuestSend(3);
            Assert.Equal(3, rig.PollUntilEmpty());
            rig.GuestSend(2);
            Assert.Equal(2, rig.PollUntilEmpty());
            Assert.True(rig.GuestKicks - kicksBefore <= 1, "the guest kicked a polling backend more than once (EVENT_IDX may fire once)");

            // Idle: clear old kicks, enable, re-check, sleep on the kick fd.
            rig.Device.DrainKick(1);
            Assert.True(rig.Device.EnableGuestNotification(1, true));
            Assert.Equal(0u, rig.Device.RxQueueCount(1));
            bool kicked = false;
            var guest = new Thread(() =>
            {
                Thread.Sleep(round % 3);   // 0..2 ms: before, at or after the backend enters poll()
                kicked = rig.GuestSend(1);
            });
            guest.Start();
            Assert.True(rig.WaitForKick((int)KickSocketRig.Wait.TotalMilliseconds), "the backend slept through the guest's buffer");
            guest.Join();
            Assert.True(kicked, "the guest did not kick although notifications were enabled");
            Assert.True(rig.Device.DrainKick(1) >= 1);
            Assert.True(rig.Device.EnableGuestNotification(1, false));
            Assert.Equal(1, rig.PollUntilEmpty());
        }
    }

    [Fact]
    public void The_idle_sequence_allocates_nothing()
    {
        using var rig = new KickSocketRig("kick-alloc", packed: true, eventIdx: true);
        void Sequence()
        {
            rig.Device.DrainKick(1);
            rig.Device.EnableGuestNotification(1, true);
            rig.Device.RxQueueCount(1);
            rig.Device.DrainKick(1);
            rig.Device.EnableGuestNotification(1, false);
        }
        for (int i = 0; i < 200; i++) Sequence();   // warm up: JIT, tiering
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5_000; i++) Sequence();
        Assert.Equal(0L, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Drain_says_why_it_cannot_read_a_kick_fd()
    {
        using var rig = new KickSocketRig("kick-nofd", packed: false, eventIdx: false);
        rig.Frontend.SetVringKick(1, -1);   // NOFD: a frontend that polls and never kicks
        Assert.True(SpinWait.SpinUntil(() => rig.TxRing.KickFd == Vring.FdNone, KickSocketRig.Wait));
        Assert.Equal(-LibC.EBADF, rig.Device.DrainKick(1));
    }
}
