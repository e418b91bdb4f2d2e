using HotPath.Engine.Virtio;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Wire;

namespace HotPath.Tests.Blk;

/// <summary>
/// vhost-user-blk device bring-up with HotPath's frontend, in QEMU's vhost-user-blk order: SET_OWNER, features and
/// protocol features, GET_CONFIG, (SET_BACKEND_REQ_FD); then at start SET_FEATURES, GET/SET_INFLIGHT_FD, SET_MEM_TABLE,
/// the ring (NUM, BASE, ADDR, KICK, CALL), SET_VRING_ENABLE. One queue, split ring.
/// </summary>
internal static class BlkFrontend
{
    public const int FeatureSegMax = 2, FeatureBlkSize = 6, FeatureFlush = 9;

    public const ulong WantedFeatures =
        (1UL << VirtioFeatures.Version1) | (1UL << VirtioFeatures.ProtocolFeatures) | (1UL << VirtioFeatures.RingIndirectDesc) |
        (1UL << FeatureSegMax) | (1UL << FeatureBlkSize) | (1UL << FeatureFlush);

    public const ulong WantedProtocolFeatures =
        (1UL << ProtocolFeatures.ReplyAck) | (1UL << ProtocolFeatures.Config) | (1UL << ProtocolFeatures.BackendReq) |
        (1UL << ProtocolFeatures.InflightShmfd) | (1UL << ProtocolFeatures.Mq);

    /// <summary>Negotiation; returns the features to ack at start.</summary>
    public static ulong Negotiate(VhostUserFrontend fe, bool backendChannel)
    {
        fe.SetOwner();
        ulong offered = fe.GetFeatures();
        fe.SetProtocolFeatures(fe.GetProtocolFeatures() & WantedProtocolFeatures);
        Assert.Equal(1UL, fe.GetQueueNum());
        if (backendChannel) fe.SetBackendReqFd();
        Assert.Equal(WantedFeatures, offered & WantedFeatures);
        return offered & WantedFeatures;
    }

    /// <summary>Device start with <paramref name="ring"/> at its current base; the inflight area is created once and kept.</summary>
    public static void Start(VhostUserFrontend fe, ulong features, FrontendMemory memory, SplitRingDriver ring)
    {
        fe.SetFeatures(features);
        fe.Inflight ??= fe.GetInflightFd(1, (ushort)ring.Size);
        fe.SetInflightFd(fe.Inflight);
        fe.SetMemTable(memory);
        fe.SetVringNum(0, ring.Size);
        fe.SetVringBase(0, ring.Areas.BaseIndex);
        fe.SetVringAddr(0, ring.Areas, memory);
        fe.SetVringKick(0, ring.KickFd);
        fe.SetVringCall(0, ring.CallFd);
        fe.SetVringEnable(0, true);
    }

    public static ulong Capacity(VhostUserFrontend fe) => BitConverter.ToUInt64(fe.GetConfig(0, 8));
}
