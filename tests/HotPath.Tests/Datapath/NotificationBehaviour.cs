using HotPath.Engine;
using HotPath.Engine.Buffers;
using HotPath.Engine.Stats;
using HotPath.Frontend.Rings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// Guest notifications every ring type must get right: the call eventfd is written at most once per burst and only
/// when the guest asked, the application's guest_notify hook can take it over, a polling ring writes nothing. A
/// concrete class per ring type (<see cref="NotificationTests"/>, <see cref="PackedNotificationTests"/>) supplies the
/// rig and its suppression structures' cases.
/// </summary>
public abstract unsafe class NotificationBehaviour<TDriver> where TDriver : class, IRingDriver
{
    /// <summary>A loopback of this ring type.</summary>
    private protected abstract Loopback<TDriver> Rig(ulong features = Loopback.BaseFeatures, bool interrupts = true);

    private protected sealed class Hook : IGuestNotifyHook
    {
        public bool TakeOver;
        public int Notifies, Notified;
        public VhostDevice? Device;
        public bool NotifyFromInside;

        public bool GuestNotify(int vid, ushort queueId)
        {
            Notifies++;
            if (NotifyFromInside) Device!.NotifyGuest(queueId);
            return TakeOver;
        }

        public void GuestNotified(int vid) => Notified++;
    }

    /// <summary>Posts <paramref name="n"/> TX packets and dequeues them in one burst.</summary>
    private protected static void TxBurst(Loopback<TDriver> lb, Mempool pool, int n)
    {
        for (int i = 0; i < n; i++) Assert.True(lb.Tx[0].PostTx(new byte[lb.Tx[0].HeaderSize], Payload.Make(64, (ulong)i)));
        lb.Tx[0].Publish();
        nint* mbufs = stackalloc nint[64];
        Assert.Equal(n, lb.Device.DequeueBurst(1, pool, new Span<nint>(mbufs, 64)));
        MbufOps.FreeBulk((Mbuf**)mbufs, (uint)n);
        lb.Tx[0].ReapTx();
    }

    [Fact]
    public void Call_eventfd_is_written_once_per_burst_when_interrupts_are_on()
    {
        using var lb = Rig(interrupts: true);
        using Mempool pool = TestPools.Create();
        lb.Device.StatsEnabled = true;
        TxBurst(lb, pool, 10);
        Assert.Equal(1UL, lb.Tx[0].DrainCalls());
        TxBurst(lb, pool, 3);
        Assert.Equal(1UL, lb.Tx[0].DrainCalls());
        Assert.Equal(2UL, lb.TxVring().Stats[VringStats.GuestNotifications]);

        lb.Rx[0].FillRx(2048);
        lb.Rx[0].Publish();
        Mbuf** pkts = stackalloc Mbuf*[8];
        for (int i = 0; i < 8; i++) pkts[i] = HandMbufs.Make(Payload.Make(100, (ulong)i));
        try { Assert.Equal(8, lb.Device.EnqueueBurst(0, pkts, 8)); }
        finally { for (int i = 0; i < 8; i++) HandMbufs.Free(pkts[i]); }
        Assert.Equal(1UL, lb.Rx[0].DrainCalls());
    }

    [Fact]
    public void Guest_notify_hook_takes_the_notification_over_until_notify_guest()
    {
        using var lb = Rig(interrupts: true);
        using Mempool pool = TestPools.Create();
        lb.Device.StatsEnabled = true;
        var hook = new Hook { TakeOver = true };
        lb.Device.NotifyHook = hook;
        TxBurst(lb, pool, 4);
        Assert.Equal(1, hook.Notifies);
        Assert.Equal(0UL, lb.Tx[0].DrainCalls());
        // Pending in the application: further bursts do not ask again (counted as suppressed).
        TxBurst(lb, pool, 4);
        Assert.Equal(1, hook.Notifies);
        Assert.Equal(1UL, lb.TxVring().Stats[VringStats.GuestNotificationsSuppressed]);
        Assert.Equal(1UL, lb.TxVring().Stats[VringStats.GuestNotificationsOffloaded]);
        // The application delivers it.
        lb.Device.NotifyGuest(1);
        Assert.Equal(1UL, lb.Tx[0].DrainCalls());
        Assert.Equal(1, hook.Notified);
        TxBurst(lb, pool, 1);
        Assert.Equal(2, hook.Notifies);
    }

    [Fact]
    public void Guest_notify_hook_that_declines_lets_the_datapath_write_the_eventfd()
    {
        using var lb = Rig(interrupts: true);
        using Mempool pool = TestPools.Create();
        var hook = new Hook { TakeOver = false };
        lb.Device.NotifyHook = hook;
        TxBurst(lb, pool, 2);
        Assert.Equal(1, hook.Notifies);
        Assert.Equal(1, hook.Notified);
        Assert.Equal(1UL, lb.Tx[0].DrainCalls());
    }

    [Fact]
    public void Notify_guest_called_from_inside_the_hook_does_not_deadlock()
    {
        using var lb = Rig(interrupts: true);
        using Mempool pool = TestPools.Create();
        var hook = new Hook { TakeOver = true, NotifyFromInside = true, Device = lb.Device };
        lb.Device.NotifyHook = hook;
        TxBurst(lb, pool, 2);
        Assert.Equal(1, hook.Notifies);
        Assert.Equal(1UL, lb.Tx[0].DrainCalls());
    }

    [Fact]
    public void A_polling_ring_without_call_fd_moves_packets_and_writes_nothing()
    {
        using var lb = Rig(interrupts: false);
        using Mempool pool = TestPools.Create();
        lb.Device.StatsEnabled = true;
        TxBurst(lb, pool, 3);
        Assert.Equal(0UL, lb.Tx[0].DrainCalls());
        Assert.Equal(0UL, lb.TxVring().Stats[VringStats.GuestNotifications]);
        Assert.Equal(3UL, lb.TxVring().Stats[VringStats.GoodPackets]);
    }
}
