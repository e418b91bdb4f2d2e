namespace HotPath.Engine.Async;

/// <summary>
/// A copy device registered on a vring (the seed's rte_vhost_async_channel_ops). Both methods are called only by the
/// holder of the vring's access lock: the application's polling thread inside a submit or poll, or the control
/// plane while it settles the queue. They must not throw, block for long, or call back into the device.
/// </summary>
public unsafe interface IAsyncCopyChannel
{
    /// <summary>
    /// transfer_data: takes the copies of <paramref name="count"/> packets (<paramref name="descs"/> is valid during
    /// the call; the iov iters, iovecs and the memory they name until the packet is reported complete). Out-of-order
    /// channels get one token per packet in <paramref name="opaque"/>-&gt;DstOpaqueData (null for in-order channels).
    /// Returns how many packets (a prefix) it accepted; the device copies the others itself.
    /// </summary>
    uint TransferData(int vid, int queueId, AsyncDesc* descs, AsyncStatus* opaque, ushort count);

    /// <summary>
    /// check_completed_copies: returns how many packets finished all their copies since the last call, at most
    /// <paramref name="maxPackets"/>: in-order channels in submission order; out-of-order channels write their tokens
    /// to <paramref name="opaque"/>-&gt;DstOpaqueData. A packet is reported once, after its last byte is written.
    /// </summary>
    uint CheckCompletedCopies(int vid, int queueId, AsyncStatus* opaque, ushort maxPackets);
}
