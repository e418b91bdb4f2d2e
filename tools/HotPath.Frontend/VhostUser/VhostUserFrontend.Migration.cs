using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

// Live migration (dirty logging switched on and off on a running device) and reconnecting to a backend that died,
// as QEMU does them.
public sealed partial class VhostUserFrontend
{
    /// <summary>
    /// Starts dirty logging on the running device, as QEMU's vhost_migration_log: SET_LOG_BASE with
    /// <paramref name="log"/>, SET_FEATURES with VHOST_F_LOG_ALL added, then SET_VRING_ADDR for every ring with
    /// VHOST_VRING_F_LOG and the used ring's guest address as log address (QEMU's used_phys; the device event
    /// area of a packed ring). Each request is acknowledged (REPLY_ACK) before the next, so when this returns the
    /// backend logs every write. In IOTLB mode the ring addresses and the log address are IOVAs, as QEMU sends them
    /// for a device behind a vIOMMU.
    /// </summary>
    public void EnableLogging(FrontendDirtyLog log, FrontendMemory memory, IReadOnlyList<IRingLayout> rings)
    {
        SetLogBase(log.Fd, log.Size);
        SetFeatures(AckedFeatures | VirtioFeatures.Bit(VirtioFeatures.LogAll));
        for (uint i = 0; i < rings.Count; i++)
            SetVringAddr(RingAddr(i, rings[(int)i], memory, log: true));
    }

    /// <summary>Stops dirty logging: SET_FEATURES without VHOST_F_LOG_ALL and the ring addresses without VHOST_VRING_F_LOG.</summary>
    public void DisableLogging(FrontendMemory memory, IReadOnlyList<IRingLayout> rings)
    {
        SetFeatures(AckedFeatures & ~VirtioFeatures.Bit(VirtioFeatures.LogAll));
        for (uint i = 0; i < rings.Count; i++) SetVringAddr(RingAddr(i, rings[(int)i], memory, log: false));
    }

    /// <summary>SET_VRING_ADDR for a ring, with VHOST_VRING_F_LOG and the used ring as log address or without.</summary>
    private VringAddrPayload RingAddr(uint i, IRingLayout ring, FrontendMemory memory, bool log)
    {
        uint flags = log ? 1u : 0;
        if (_options.Iommu)
            return FrontendPayloads.VringAddrIova(i, ring, flags, log ? Iova(ring.DeviceAreaGpa) : 0, _options.IovaOffset);
        return FrontendPayloads.VringAddr(i, ring, memory, flags: flags, logGuestAddr: log ? ring.DeviceAreaGpa : 0);
    }

    /// <summary>
    /// The inflight area this frontend hands the backend at <see cref="StartDevice"/> when
    /// <see cref="NetDeviceOptions.TrackInflight"/> is set: null before the first start (StartDevice then asks the
    /// backend for one with GET_INFLIGHT_FD); kept by the caller across connections and given back to a restarted
    /// backend with SET_INFLIGHT_FD, as QEMU's vhost-user-blk keeps its inflight memfd. Not disposed with the frontend.
    /// </summary>
    public InflightArea? Inflight { get; set; }

    /// <summary>
    /// StartDevice's inflight step, after SET_FEATURES (which fixes the ring layout) and before the rings are set up,
    /// as QEMU's vhost_dev_prepare_inflight / get_inflight / set_inflight.
    /// </summary>
    private void SetUpInflight(IReadOnlyList<IRingLayout> rings)
    {
        if (!_options.TrackInflight) return;
        if (!HasProtocolFeature(ProtocolFeatures.InflightShmfd))
            throw new NotSupportedException($"{Peer} does not offer protocol feature INFLIGHT_SHMFD; no inflight tracking");
        Inflight ??= GetInflightFd((ushort)rings.Count, (ushort)rings[0].Size);
        SetInflightFd(Inflight);
    }

    /// <summary>
    /// After the backend died without GET_VRING_BASE: each split ring restarts where the device's used index says
    /// it got to (QEMU's virtio_queue_restore_last_avail_idx); what it had taken but not finished is the backend's
    /// to resubmit from the inflight area. Packed rings keep their base (QEMU does not restore them either; a
    /// backend finds its place with the inflight area).
    /// </summary>
    public static unsafe void RestoreBasesAfterBackendLoss(FrontendMemory memory, IReadOnlyList<RingAreas> rings)
    {
        foreach (RingAreas r in rings)
        {
            if (r.Packed) continue;
            r.BaseIndex = Volatile.Read(ref *(ushort*)(memory.Host(r.DeviceAreaGpa) + SplitRingLayout.UsedIdxOffset));
        }
    }
}
