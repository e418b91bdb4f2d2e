using System.Runtime.InteropServices;

namespace HotPath.Protocol.Wire;

/// <summary>The 12-byte vhost-user message header: request, flags, payload size. Native-endian.</summary>
[StructLayout(LayoutKind.Sequential, Size = 12)]
public struct MessageHeader
{
    public uint Request;
    public uint Flags;
    public uint Size;

    public const int WireSize = 12;
    public const uint VersionMask = 0x3, Version = 0x1, FlagReply = 0x4, FlagNeedReply = 0x8;
    /// <summary>All flag bits a request may carry: version, NEED_REPLY. Anything else is refused.</summary>
    public const uint KnownRequestFlags = VersionMask | FlagNeedReply;

    public readonly bool NeedReply => (Flags & FlagNeedReply) != 0;
    public readonly bool IsReply => (Flags & FlagReply) != 0;
    public readonly uint VersionBits => Flags & VersionMask;
}
