using HotPath.Protocol.Control.Handlers;
using PF = HotPath.Protocol.Wire.ProtocolFeatures;
using R = HotPath.Protocol.Wire.FrontendRequest;

namespace HotPath.Protocol.Control;

/// <summary>
/// The one handler table (DPDK's VHOST_MESSAGE_HANDLERS): for every request id its name, payload size rule, fd
/// rule, required negotiation and handler. <see cref="VhostSession"/> checks all of it before a handler runs.
/// Known requests with a null handler are refused cleanly (the features they need are never offered).
/// </summary>
internal static class MessageTable
{
    private static readonly MessageEntry?[] s_entries = Build();

    public static MessageEntry? Find(uint request) => request < s_entries.Length ? s_entries[request] : null;

    public static IEnumerable<MessageEntry> All => s_entries.Where(e => e != null)!;

    private static MessageEntry?[] Build()
    {
        var t = new MessageEntry?[(int)R.CheckDeviceState + 1];
        void Add(MessageEntry e) => t[(int)e.Request] = e;
        static MessageEntry E(R r, string name, int size, MessageHandler? h, FdRule fds = FdRule.None,
            Needs needs = Needs.Nothing, int pf = -1, Func<Transport.MessageReader, bool>? sizeCheck = null) => new()
        {
            Request = r, Name = name, PayloadSize = sizeCheck == null ? size : -1, SizeCheck = sizeCheck,
            Handler = h, Fds = fds, Needs = needs, ProtocolFeature = pf,
        };

        Add(E(R.GetFeatures, "GET_FEATURES", 0, FeatureHandlers.GetFeatures));
        Add(E(R.SetFeatures, "SET_FEATURES", 8, FeatureHandlers.SetFeatures));
        Add(E(R.SetOwner, "SET_OWNER", 0, FeatureHandlers.SetOwner));
        Add(E(R.ResetOwner, "RESET_OWNER", 0, FeatureHandlers.Reset));
        Add(E(R.SetMemTable, "SET_MEM_TABLE", -1, MemoryHandlers.SetMemTable, FdRule.OnePerRegion,
            sizeCheck: MemoryHandlers.MemTableSizeOk));
        Add(E(R.SetLogBase, "SET_LOG_BASE", 16, LogHandlers.SetLogBase, FdRule.One, Needs.ProtocolFeature, PF.LogShmfd));
        Add(E(R.SetLogFd, "SET_LOG_FD", -1, LogHandlers.SetLogFd, FdRule.One, sizeCheck: LogHandlers.LogFdSizeOk));
        Add(E(R.SetVringNum, "SET_VRING_NUM", 8, VringHandlers.SetVringNum));
        Add(E(R.SetVringAddr, "SET_VRING_ADDR", 40, VringHandlers.SetVringAddr));
        Add(E(R.SetVringBase, "SET_VRING_BASE", 8, VringHandlers.SetVringBase));
        Add(E(R.GetVringBase, "GET_VRING_BASE", 8, VringHandlers.GetVringBase));
        Add(E(R.SetVringKick, "SET_VRING_KICK", 8, VringHandlers.SetVringKick, FdRule.UnlessNoFdFlag));
        Add(E(R.SetVringCall, "SET_VRING_CALL", 8, VringHandlers.SetVringCall, FdRule.UnlessNoFdFlag));
        Add(E(R.SetVringErr, "SET_VRING_ERR", 8, VringHandlers.SetVringErr, FdRule.UnlessNoFdFlag));
        Add(E(R.GetProtocolFeatures, "GET_PROTOCOL_FEATURES", 0, FeatureHandlers.GetProtocolFeatures,
            needs: Needs.ProtocolFeaturesOffered));
        Add(E(R.SetProtocolFeatures, "SET_PROTOCOL_FEATURES", 8, FeatureHandlers.SetProtocolFeatures,
            needs: Needs.ProtocolFeaturesOffered));
        Add(E(R.GetQueueNum, "GET_QUEUE_NUM", 0, FeatureHandlers.GetQueueNum, needs: Needs.ProtocolFeature, pf: PF.Mq));
        Add(E(R.SetVringEnable, "SET_VRING_ENABLE", 8, VringHandlers.SetVringEnable));
        Add(E(R.SendRarp, "SEND_RARP", 8, DeviceHandlers.SendRarp, needs: Needs.ProtocolFeature, pf: PF.Rarp));
        Add(E(R.NetSetMtu, "NET_SET_MTU", 8, DeviceHandlers.NetSetMtu, needs: Needs.ProtocolFeature, pf: PF.NetMtu));
        Add(E(R.SetBackendReqFd, "SET_BACKEND_REQ_FD", 0, DeviceHandlers.SetBackendReqFd, FdRule.One,
            Needs.ProtocolFeature, PF.BackendReq));
        Add(E(R.IotlbMsg, "IOTLB_MSG", 32, DeviceHandlers.IotlbMsg));
        Add(E(R.SetVringEndian, "SET_VRING_ENDIAN", 8, null, needs: Needs.ProtocolFeature, pf: PF.CrossEndian));
        Add(E(R.GetConfig, "GET_CONFIG", -1, DeviceHandlers.GetConfig, needs: Needs.ProtocolFeature, pf: PF.Config,
            sizeCheck: DeviceHandlers.ConfigSizeOk));
        Add(E(R.SetConfig, "SET_CONFIG", -1, DeviceHandlers.SetConfig, needs: Needs.ProtocolFeature, pf: PF.Config,
            sizeCheck: DeviceHandlers.ConfigSizeOk));
        Add(E(R.CreateCryptoSession, "CREATE_CRYPTO_SESSION", Wire.CryptoSessionPayload.WireSize, CryptoHandlers.CreateSession,
            needs: Needs.ProtocolFeature, pf: PF.CryptoSession));
        Add(E(R.CloseCryptoSession, "CLOSE_CRYPTO_SESSION", 8, CryptoHandlers.CloseSession, needs: Needs.ProtocolFeature,
            pf: PF.CryptoSession));
        Add(E(R.PostcopyAdvise, "POSTCOPY_ADVISE", 0, PostcopyHandlers.Advise, needs: Needs.ProtocolFeature, pf: PF.Pagefault));
        Add(E(R.PostcopyListen, "POSTCOPY_LISTEN", 0, PostcopyHandlers.Listen, needs: Needs.ProtocolFeature, pf: PF.Pagefault));
        Add(E(R.PostcopyEnd, "POSTCOPY_END", 0, PostcopyHandlers.End, needs: Needs.ProtocolFeature, pf: PF.Pagefault));
        Add(E(R.GetInflightFd, "GET_INFLIGHT_FD", 24, InflightHandlers.GetInflightFd,
            needs: Needs.ProtocolFeature, pf: PF.InflightShmfd));
        Add(E(R.SetInflightFd, "SET_INFLIGHT_FD", 24, InflightHandlers.SetInflightFd, FdRule.One,
            Needs.ProtocolFeature, PF.InflightShmfd));
        Add(E(R.GpuSetSocket, "GPU_SET_SOCKET", 0, null, FdRule.One));
        Add(E(R.ResetDevice, "RESET_DEVICE", 0, FeatureHandlers.Reset, needs: Needs.ProtocolFeature, pf: PF.ResetDevice));
        Add(E(R.VringKick, "VRING_KICK", 8, null, needs: Needs.ProtocolFeature, pf: PF.InbandNotifications));
        Add(E(R.GetMaxMemSlots, "GET_MAX_MEM_SLOTS", 0, MemoryHandlers.GetMaxMemSlots,
            needs: Needs.ProtocolFeature, pf: PF.ConfigureMemSlots));
        Add(E(R.AddMemReg, "ADD_MEM_REG", 40, MemoryHandlers.AddMemReg, FdRule.One, Needs.ProtocolFeature, PF.ConfigureMemSlots));
        Add(E(R.RemMemReg, "REM_MEM_REG", 40, MemoryHandlers.RemMemReg, FdRule.ZeroOrOne, Needs.ProtocolFeature, PF.ConfigureMemSlots));
        Add(E(R.SetStatus, "SET_STATUS", 8, DeviceHandlers.SetStatus, needs: Needs.ProtocolFeature, pf: PF.Status));
        Add(E(R.GetStatus, "GET_STATUS", 0, DeviceHandlers.GetStatus, needs: Needs.ProtocolFeature, pf: PF.Status));
        Add(E(R.GetSharedObject, "GET_SHARED_OBJECT", 16, null, needs: Needs.ProtocolFeature, pf: PF.SharedObject));
        Add(E(R.SetDeviceStateFd, "SET_DEVICE_STATE_FD", 8, null, FdRule.One, Needs.ProtocolFeature, PF.DeviceState));
        Add(E(R.CheckDeviceState, "CHECK_DEVICE_STATE", 0, null, needs: Needs.ProtocolFeature, pf: PF.DeviceState));
        return t;
    }

    /// <summary>Readable name of a request id (for logs).</summary>
    public static string NameOf(uint request) => Find(request)?.Name ?? $"request {request}";
}
