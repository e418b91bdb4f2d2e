using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// SECURITY.md cases 1 and 2: headers that lie and fds that do not belong. Each builder returns exactly the bytes
/// and fds it names; the unit tests pin them.
/// </summary>
public static class HostileFraming
{
    private const int HeaderCase = 1, FdCase = 2;

    /// <summary>A vring state for SET_VRING_NUM: the payload the size-lying builders start from.</summary>
    private static byte[] SomeVringState => FrontendPayloads.VringState(0, 256);

    /// <summary>Case 1: header size far above the largest payload; only 8 bytes follow.</summary>
    public static HostileMessage SizeAboveMaximum(uint sizeField = 0x1000_0000) =>
        HostileMessage.Raw($"size field {sizeField} above the largest payload", (uint)FrontendRequest.SetVringNum,
            MessageHeader.Version, sizeField, SomeVringState, securityCase: HeaderCase);

    /// <summary>
    /// Case 1: an honest header on a payload shorter than the request's struct (e.g. 8 bytes of SET_VRING_ADDR's 40).
    /// </summary>
    public static HostileMessage SizeBelowStruct(FrontendRequest request = FrontendRequest.SetVringAddr, int bytes = 8) =>
        HostileMessage.Honest($"{RequestRules.NameOf(request)} with {bytes} payload bytes, below its struct", HeaderCase,
            request, new byte[bytes]);

    /// <summary>
    /// Case 1: the header promises <paramref name="sizeField"/> bytes but only <paramref name="sent"/> follow: the
    /// backend must not block waiting for the rest (send it, or send it and close, see
    /// <see cref="HostileConnection.SendThenClose"/>).
    /// </summary>
    public static HostileMessage SizeAboveBytesSent(uint sizeField = 40, int sent = 8) =>
        HostileMessage.Raw($"size field {sizeField} with {sent} bytes sent", (uint)FrontendRequest.SetVringAddr,
            MessageHeader.Version, sizeField, new byte[sent], securityCase: HeaderCase);

    /// <summary>Case 1: an unknown request id (0, 44, 0x7FFFFFFF, 0xFFFFFFFF, ...) with an 8-byte payload.</summary>
    public static HostileMessage UnknownRequest(uint id = 99) =>
        HostileMessage.Raw($"unknown request id {id}", id, MessageHeader.Version, 8, new byte[8], securityCase: HeaderCase);

    /// <summary>Case 1: version bits other than 1 (0, 2, 3) on a GET_FEATURES.</summary>
    public static HostileMessage BadVersion(uint versionBits = 2) =>
        HostileMessage.Raw($"version bits {versionBits}", (uint)FrontendRequest.GetFeatures,
            versionBits & MessageHeader.VersionMask, 0, Array.Empty<byte>(), securityCase: HeaderCase);

    /// <summary>Case 1: a request carrying the REPLY flag (GET_FEATURES).</summary>
    public static HostileMessage ReplyFlagOnRequest() =>
        HostileMessage.Raw("REPLY flag on a request", (uint)FrontendRequest.GetFeatures,
            MessageHeader.Version | MessageHeader.FlagReply, 0, Array.Empty<byte>(), securityCase: HeaderCase);

    /// <summary>Case 1: flag bits no version defines (bit 4 and up) on a GET_FEATURES.</summary>
    public static HostileMessage UnknownFlags(uint bits = 0xFFFF_FFF0) =>
        HostileMessage.Raw($"unknown flag bits 0x{bits:x}", (uint)FrontendRequest.GetFeatures,
            MessageHeader.Version | bits, 0, Array.Empty<byte>(), securityCase: HeaderCase);

    /// <summary>Case 2: <paramref name="count"/> eventfds on GET_FEATURES, which takes none.</summary>
    public static HostileMessage FdsOnGetFeatures(int count = 1) =>
        HostileMessage.Honest($"{count} fd(s) on GET_FEATURES", FdCase, FrontendRequest.GetFeatures, Array.Empty<byte>(),
            HostileFds.EventFds(count));

    /// <summary>Case 2: an eventfd on SET_VRING_NUM, which takes none.</summary>
    public static HostileMessage FdOnSetVringNum() =>
        HostileMessage.Honest("fd on SET_VRING_NUM", FdCase, FrontendRequest.SetVringNum, SomeVringState, HostileFds.EventFds(1));

    /// <summary>
    /// Case 2: SET_VRING_CALL for vring 0 with <paramref name="count"/> eventfds where it takes one: more than the
    /// backend's control buffer holds (MSG_CTRUNC). Linux passes at most 253 fds in one message.
    /// </summary>
    public static HostileMessage TooManyFds(int count = MessageLimits.MaxFds + 1)
    {
        if (count is < 2 or > 253) throw new ArgumentOutOfRangeException(nameof(count), "2..253 fds (SCM_MAX_FD)");
        return HostileMessage.Honest($"{count} fds on SET_VRING_CALL", FdCase, FrontendRequest.SetVringCall,
            FrontendPayloads.U64(FrontendPayloads.VringFd(0, noFd: false)), HostileFds.EventFds(count));
    }

    /// <summary>Case 2: SET_VRING_KICK without the NOFD bit and without an fd.</summary>
    public static HostileMessage KickWithoutFd() =>
        HostileMessage.Honest("SET_VRING_KICK without NOFD and without an fd", FdCase, FrontendRequest.SetVringKick,
            FrontendPayloads.U64(FrontendPayloads.VringFd(0, noFd: false)));
}
