using HotPath.Engine.Vrings;

namespace HotPath.Tests.Datapath;

/// <summary>
/// Guest TX → dequeue → mbufs → enqueue → guest RX over real memfd memory and packed rings: every byte and the
/// virtio-net header checked, the pool back to zero mbufs in use, nothing written outside the guest's buffers.
/// </summary>
public class PackedRoundTripTests
{
    [Theory]
    [MemberData(nameof(DatapathModes.All), MemberType = typeof(DatapathModes))]
    public void Packets_survive_guest_to_host_to_guest_byte_exact(bool mrg, bool indirect, bool eventIdx)
    {
        // 100 entries: not a power of two (legal on packed rings), and the packets wrap it several times.
        using var lb = new PackedLoopback(DatapathModes.Features(mrg, indirect, eventIdx), ringSize: 100, bufferSize: 4096, interrupts: true);
        RoundTrips.ByteExact(lb, mrg, indirect, randomSizes: 60);
        // The used side is where the avail side is: what GET_VRING_BASE reports covers both.
        Vring tx = lb.TxVring(), rx = lb.RxVring();
        Assert.Equal((tx.LastAvailIdx, tx.AvailWrapCounter), (tx.LastUsedIdx, tx.UsedWrapCounter));
        Assert.Equal((rx.LastAvailIdx, rx.AvailWrapCounter), (rx.LastUsedIdx, rx.UsedWrapCounter));
    }
}
