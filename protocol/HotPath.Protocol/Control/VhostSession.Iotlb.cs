using HotPath.Engine.Iommu;
using HotPath.Protocol.Control.Handlers;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Control;

/// <summary>
/// IOTLB misses (VIRTIO_F_IOMMU_PLATFORM): the device's bursts and ring translations record the addresses they could
/// not translate (<see cref="IotlbMisses"/>, lock-free) and signal; the control thread sends one IOTLB_MSG MISS per
/// address on the backend-request channel, without waiting for a reply (the frontend answers with an UPDATE on the
/// main socket).
/// </summary>
public sealed partial class VhostSession : IIotlbMissSink
{
    private readonly Action _drainIotlbMisses;
    private readonly (ulong Iova, byte Perm)[] _missBatch = new (ulong, byte)[IotlbMisses.Slots];
    private bool _missWithoutChannelLogged;

    /// <summary>Any thread, datapath included: hands the sending to the control thread.</summary>
    void IIotlbMissSink.MissesPending() => EventLoop.Shared.Post(_drainIotlbMisses);

    private void DrainIotlbMisses()
    {
        if (IsClosed) return;
        int n = Device.IotlbMisses.TakeReady(_missBatch);
        BackendRequestChannel? channel = BackendChannel;
        for (int i = 0; i < n; i++)
        {
            (ulong iova, byte perm) = _missBatch[i];
            if (channel == null)
            {
                if (!_missWithoutChannelLogged) Log(LogLevel.Warning, $"IOTLB miss at 0x{iova:x} but the frontend set up no backend-request channel");
                _missWithoutChannelLogged = true;
                continue;
            }
            var msg = new IotlbPayload { Iova = iova, Perm = perm, Type = DeviceHandlers.IotlbMiss };
            ReadOnlySpan<byte> payload = System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<IotlbPayload>(in msg));
            int rc = channel.Send(BackendRequest.IotlbMsg, payload, needReply: false, BackendReplyTimeout, out string error);
            if (rc != 0) Log(LogLevel.Warning, $"IOTLB miss at 0x{iova:x} ({IotlbPerm.Describe(perm)}): {error}");
            else if (ControlLog.IsEnabled(LogLevel.Debug)) Log(LogLevel.Debug, $"sent IOTLB miss at 0x{iova:x} ({IotlbPerm.Describe(perm)})");
        }
    }
}
