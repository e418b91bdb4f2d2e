using System.Runtime.InteropServices;

namespace HotPath.Protocol.Takeover;

/// <summary>
/// Packets of the takeover protocol (one SOCK_SEQPACKET packet each, fds as SCM_RIGHTS). The new process (N) asks,
/// the old one (O) hands over:
/// <code>
/// N: Hello → O: Begin(devices, quiesce time; listening fd) → per device: Device(connection fd, unread bytes),
///    Message* (vhost-user messages that rebuild its state, with their fds), Rings, Config, DeviceEnd → End
/// N: Ready → O: Commit → N: Resumed (just before its first new_device)
/// </code>
/// Either side may send Refuse (a reason) instead of its next packet. The old process keeps every fd it sent until
/// Resumed, and resumes its own devices when the new one refuses, times out before Commit, or dies before Resumed.
/// </summary>
internal enum TakeoverKind : ushort
{
    Hello = 1,
    Refuse = 2,
    Begin = 3,
    Device = 4,
    Message = 5,
    Rings = 6,
    Config = 7,
    DeviceEnd = 8,
    End = 9,
    Ready = 10,
    Commit = 11,
    Resumed = 12,
}

/// <summary>The 16-byte header in front of every packet.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TakeoverHeader
{
    /// <summary>"HPTO" little-endian.</summary>
    public const uint MagicValue = 0x4F545048;
    /// <summary>Bumped whenever a packet's meaning changes; both sides must agree exactly.</summary>
    public const ushort CurrentVersion = 1;
    public const int Size = 16;

    public uint Magic;
    public ushort Version;
    public ushort Kind;
    public uint PayloadSize;
    public uint Reserved;
}

/// <summary>Begin: what follows, and when the old process stopped its datapath.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BeginPayload
{
    public uint Devices;
    /// <summary>1 when the listening socket (server mode) is attached.</summary>
    public uint HasListener;
    /// <summary>CLOCK_MONOTONIC of the old process's quiesce, in ns (one clock for every process on the host).</summary>
    public long QuiescedAtNs;
}

/// <summary>Rings: one entry per vring whose indexes the device had (exactly, used side included).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RingIndexes
{
    public uint Index;
    public ushort LastAvailIdx;
    public ushort LastUsedIdx;
    public byte AvailWrap;
    public byte UsedWrap;
    public ushort Padding;
}
