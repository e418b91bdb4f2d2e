namespace HotPath.Protocol.Wire;

/// <summary>Frontend → backend request ids (QEMU docs/interop/vhost-user.rst numbering).</summary>
public enum FrontendRequest : uint
{
    None = 0,
    GetFeatures = 1,
    SetFeatures = 2,
    SetOwner = 3,
    ResetOwner = 4,
    SetMemTable = 5,
    SetLogBase = 6,
    SetLogFd = 7,
    SetVringNum = 8,
    SetVringAddr = 9,
    SetVringBase = 10,
    GetVringBase = 11,
    SetVringKick = 12,
    SetVringCall = 13,
    SetVringErr = 14,
    GetProtocolFeatures = 15,
    SetProtocolFeatures = 16,
    GetQueueNum = 17,
    SetVringEnable = 18,
    SendRarp = 19,
    NetSetMtu = 20,
    SetBackendReqFd = 21,
    IotlbMsg = 22,
    SetVringEndian = 23,
    GetConfig = 24,
    SetConfig = 25,
    CreateCryptoSession = 26,
    CloseCryptoSession = 27,
    PostcopyAdvise = 28,
    PostcopyListen = 29,
    PostcopyEnd = 30,
    GetInflightFd = 31,
    SetInflightFd = 32,
    GpuSetSocket = 33,
    ResetDevice = 34,
    VringKick = 35,
    GetMaxMemSlots = 36,
    AddMemReg = 37,
    RemMemReg = 38,
    SetStatus = 39,
    GetStatus = 40,
    GetSharedObject = 41,
    SetDeviceStateFd = 42,
    CheckDeviceState = 43,
}

/// <summary>Backend → frontend request ids on the SET_BACKEND_REQ_FD channel.</summary>
public enum BackendRequest : uint
{
    None = 0,
    IotlbMsg = 1,
    ConfigChangeMsg = 2,
    VringHostNotifierMsg = 3,
    VringCall = 4,
    VringErr = 5,
    SharedObjectAdd = 6,
    SharedObjectRemove = 7,
    SharedObjectLookup = 8,
}

/// <summary>vhost-user protocol feature bits (GET/SET_PROTOCOL_FEATURES).</summary>
public static class ProtocolFeatures
{
    public const int Mq = 0, LogShmfd = 1, Rarp = 2, ReplyAck = 3, NetMtu = 4, BackendReq = 5, CrossEndian = 6,
        CryptoSession = 7, Pagefault = 8, Config = 9, BackendSendFd = 10, HostNotifier = 11, InflightShmfd = 12,
        ResetDevice = 13, InbandNotifications = 14, ConfigureMemSlots = 15, Status = 16, XenMmap = 17,
        SharedObject = 18, DeviceState = 19;

    public static ulong Bit(int n) => 1UL << n;

    /// <summary>What HotPath implements and offers by default.</summary>
    public const ulong Supported =
        (1UL << Mq) | (1UL << LogShmfd) | (1UL << Rarp) | (1UL << ReplyAck) | (1UL << NetMtu) |
        (1UL << BackendReq) | (1UL << Config) | (1UL << BackendSendFd) | (1UL << InflightShmfd) |
        (1UL << ResetDevice) | (1UL << ConfigureMemSlots) | (1UL << Status);

    public static bool Has(ulong features, int bit) => (features & (1UL << bit)) != 0;

    public static string Name(int bit) => bit switch
    {
        Mq => "MQ", LogShmfd => "LOG_SHMFD", Rarp => "RARP", ReplyAck => "REPLY_ACK", NetMtu => "NET_MTU",
        BackendReq => "BACKEND_REQ", CrossEndian => "CROSS_ENDIAN", CryptoSession => "CRYPTO_SESSION",
        Pagefault => "PAGEFAULT", Config => "CONFIG", BackendSendFd => "BACKEND_SEND_FD",
        HostNotifier => "HOST_NOTIFIER", InflightShmfd => "INFLIGHT_SHMFD", ResetDevice => "RESET_DEVICE",
        InbandNotifications => "INBAND_NOTIFICATIONS", ConfigureMemSlots => "CONFIGURE_MEM_SLOTS",
        Status => "STATUS", XenMmap => "XEN_MMAP", SharedObject => "SHARED_OBJECT", DeviceState => "DEVICE_STATE",
        _ => "bit" + bit,
    };

    public static string Describe(ulong features)
    {
        var names = new List<string>();
        for (int b = 0; b < 64; b++)
            if ((features & (1UL << b)) != 0) names.Add(Name(b));
        return string.Join('|', names);
    }
}
