using HotPath.Engine.Virtio;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

// Device-wide requests: ownership, virtio and protocol feature negotiation, queue count, status, reset.
public sealed partial class VhostUserFrontend
{
    private bool _gotFeatures;

    /// <summary>Virtio features the backend offered in the last GET_FEATURES.</summary>
    public ulong BackendFeatures { get; private set; }

    /// <summary>Virtio features sent in the last SET_FEATURES.</summary>
    public ulong AckedFeatures { get; private set; }

    /// <summary>Protocol features the backend offered in the last GET_PROTOCOL_FEATURES.</summary>
    public ulong BackendProtocolFeatures { get; private set; }

    /// <summary>Protocol features sent in the last SET_PROTOCOL_FEATURES (what both sides now use).</summary>
    public ulong AckedProtocolFeatures { get; private set; }

    /// <summary>True once SET_PROTOCOL_FEATURES was sent.</summary>
    public bool ProtocolFeaturesNegotiated { get; private set; }

    private bool VirtioHasProtocolFeaturesBit => _gotFeatures && VirtioFeatures.Has(BackendFeatures, VirtioFeatures.ProtocolFeatures);

    /// <summary>SET_OWNER: this connection is the device's frontend from now on.</summary>
    public void SetOwner() => Post(FrontendRequest.SetOwner, default);

    /// <summary>RESET_OWNER (deprecated by the spec, still what DPDK handles): the backend drops the session state.</summary>
    public void ResetOwner() => Post(FrontendRequest.ResetOwner, default);

    /// <summary>RESET_DEVICE (protocol feature RESET_DEVICE): reset the device to its initial state.</summary>
    public void ResetDevice() => Post(FrontendRequest.ResetDevice, default);

    /// <summary>GET_FEATURES: the virtio features the backend offers (also kept in <see cref="BackendFeatures"/>).</summary>
    public ulong GetFeatures()
    {
        BackendFeatures = CallU64(FrontendRequest.GetFeatures, default);
        _gotFeatures = true;
        return BackendFeatures;
    }

    /// <summary>SET_FEATURES: the virtio features the driver accepts; only bits the backend offered.</summary>
    public void SetFeatures(ulong features)
    {
        if (!_gotFeatures) throw new InvalidOperationException("SET_FEATURES before GET_FEATURES: the offer is unknown");
        RequireOffered("SET_FEATURES", features, BackendFeatures, VirtioFeatures.Describe);
        Post(FrontendRequest.SetFeatures, FrontendPayloads.U64(features));
        AckedFeatures = features;
    }

    /// <summary>GET_PROTOCOL_FEATURES (needs bit 30 in GET_FEATURES).</summary>
    public ulong GetProtocolFeatures()
    {
        BackendProtocolFeatures = CallU64(FrontendRequest.GetProtocolFeatures, default);
        return BackendProtocolFeatures;
    }

    /// <summary>SET_PROTOCOL_FEATURES: only bits the backend offered. Sent without NEED_REPLY, as QEMU does.</summary>
    public void SetProtocolFeatures(ulong features)
    {
        RequireOffered("SET_PROTOCOL_FEATURES", features, BackendProtocolFeatures, ProtocolFeatures.Describe);
        Post(FrontendRequest.SetProtocolFeatures, FrontendPayloads.U64(features));
        AckedProtocolFeatures = features;
        ProtocolFeaturesNegotiated = true;
    }

    /// <summary>GET_QUEUE_NUM (protocol feature MQ): the most queue pairs the backend supports.</summary>
    public ulong GetQueueNum() => CallU64(FrontendRequest.GetQueueNum, default);

    /// <summary>GET_MAX_MEM_SLOTS (protocol feature CONFIGURE_MEM_SLOTS): the most memory regions the backend maps.</summary>
    public ulong GetMaxMemSlots() => CallU64(FrontendRequest.GetMaxMemSlots, default);

    /// <summary>SET_STATUS (protocol feature STATUS): the virtio device status byte.</summary>
    public void SetStatus(byte status) => Post(FrontendRequest.SetStatus, FrontendPayloads.U64(status));

    /// <summary>GET_STATUS (protocol feature STATUS): the device status as the backend holds it.</summary>
    public byte GetStatus()
    {
        ulong v = CallU64(FrontendRequest.GetStatus, default);
        if (v > byte.MaxValue)
            throw Break(FrontendRequest.GetStatus, VhostUserFailure.MalformedReply, $"{Peer} returned status 0x{v:x}, wider than 8 bits");
        return (byte)v;
    }

    /// <summary>A correct frontend only accepts offered bits; sending others is the hostile mode's job.</summary>
    private static void RequireOffered(string request, ulong accepted, ulong offered, Func<ulong, string> describe)
    {
        if ((accepted & ~offered) != 0)
            throw new ArgumentException($"{request} would accept bits the backend never offered: {describe(accepted & ~offered)}",
                nameof(accepted));
    }

    private ulong CallU64(FrontendRequest request, ReadOnlySpan<byte> payload)
    {
        using ReceivedMessage reply = Call(request, payload);
        ExpectSize(request, reply, 8, "u64 reply");
        ExpectFds(request, reply, 0);
        return reply.U64;
    }
}
