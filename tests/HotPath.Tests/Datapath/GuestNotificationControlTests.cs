using HotPath.Engine.Buffers;
using HotPath.Engine.Virtio;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// rte_vhost_enable_guest_notification (interrupt mode, issue 14 item 1, and the name a DPDK program needs, issue
/// 13): by default the guest's kicks are suppressed (the bursts poll); enabled, the guest's own driver code (HotPath's
/// frontend decides like virtio drivers: used.flags, avail_event, or the packed device event area) kicks for the next
/// buffer; disabled again, it stops. The setting survives bursts and a ring re-translation. Split and packed, with
/// and without EVENT_IDX.
/// </summary>
public unsafe class GuestNotificationControlTests
{
    public static IEnumerable<object[]> Rings =>
        from packed in new[] { false, true } from eventIdx in new[] { false, true } select new object[] { packed, eventIdx };

    private static Loopback<TDriver> Make<TDriver>(bool eventIdx) where TDriver : class, IRingDriver =>
        typeof(TDriver) == typeof(PackedRingDriver)
            ? (Loopback<TDriver>)(object)new PackedLoopback(eventIdx ? PackedLoopback.With(VirtioFeatures.RingEventIdx) : PackedLoopback.With())
            : (Loopback<TDriver>)(object)new Loopback(eventIdx ? Loopback.With(VirtioFeatures.RingEventIdx) : Loopback.With());

    [Theory]
    [MemberData(nameof(Rings))]
    public void Guest_kicks_follow_enable_guest_notification(bool packed, bool eventIdx)
    {
        if (packed) Run<PackedRingDriver>(eventIdx);
        else Run<SplitRingDriver>(eventIdx);
    }

    private static void Run<TDriver>(bool eventIdx) where TDriver : class, IRingDriver
    {
        using Loopback<TDriver> lb = Make<TDriver>(eventIdx);
        using Mempool pool = TestPools.Create();
        TDriver tx = lb.Tx[0];
        var mbufs = new nint[32];
        byte[] header = new byte[tx.HeaderSize], frame = new byte[64];

        // One packet: post it, publish it (true when the driver kicked), and let the device take it.
        bool Send()
        {
            Assert.True(tx.PostTx(header, frame));
            bool kicked = tx.Publish();
            Assert.Equal(1, lb.Device.DequeueBurst(1, pool, mbufs));
            fixed (nint* p = mbufs) MbufOps.FreeBulk((Mbuf**)p, 1);
            tx.ReapTx();
            return kicked;
        }

        Assert.Equal(0, lb.Device.DequeueBurst(1, pool, mbufs));   // the first burst writes the suppression fields
        Send();                                                  // with EVENT_IDX the very first index may kick
        Assert.False(Send(), "kicks are suppressed by default");

        Assert.True(lb.Device.EnableGuestNotification(1, true));
        Assert.True(lb.TxVring().GuestKicksWanted);
        Assert.True(Send(), "no kick after enabling notifications");
        Assert.True(lb.Device.EnableGuestNotification(1, true));   // a sleeper re-arms before each wait
        Assert.True(Send(), "no kick after re-arming");

        Assert.True(lb.Device.EnableGuestNotification(1, false));
        Send();                                                  // EVENT_IDX: the armed event may still fire once
        Assert.False(Send(), "kicks still come after disabling notifications");

        // The setting survives the ring being translated again (a memory-table change, SET_VRING_ADDR).
        Assert.True(lb.Device.EnableGuestNotification(1, true));
        var v = lb.TxVring();
        using (HotPath.Engine.Vrings.VringLockScope held = v.Hold())
            Assert.Equal(HotPath.Engine.Vrings.VringError.None, lb.Device.TranslateLocked(v, held));
        Assert.True(Send(), "no kick after the ring was translated again");
        Assert.True(lb.Device.EnableGuestNotification(1, true));
        Assert.True(Send(), "no kick once a burst rewrote the suppression fields");
        Assert.False(lb.Device.EnableGuestNotification(99, true), "a vring that does not exist");
    }
}
