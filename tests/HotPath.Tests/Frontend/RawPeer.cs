using HotPath.Engine.Interop;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Transport;

namespace HotPath.Tests.Frontend;

/// <summary>
/// Reads a stream socket byte for byte, with its SCM_RIGHTS fds, without any vhost-user framing: what a hostile
/// message looks like on the wire, lies included.
/// </summary>
internal static unsafe class RawPeer
{
    /// <summary>
    /// Everything that arrives within <paramref name="quiet"/> of the previous bytes (the first wait is up to 2 s),
    /// or until <paramref name="expectBytes"/> bytes came, and whether the peer closed. The fds are returned open;
    /// the caller closes them.
    /// </summary>
    public static (byte[] Bytes, int[] Fds, bool Closed) ReadAll(int fd, TimeSpan? quiet = null, int expectBytes = int.MaxValue)
    {
        var bytes = new List<byte>();
        var fds = new List<int>();
        int wait = 2000;
        byte* buf = stackalloc byte[65536];
        const int maxFds = 253;
        int controlBytes = CmsgHdr.Space(maxFds * sizeof(int));
        byte* control = stackalloc byte[controlBytes];
        while (PollCalls.WaitReadable(fd, wait) > 0)
        {
            IoVec iov = new() { Base = buf, Len = 65536 };
            MsgHdr msg = new() { Iov = &iov, IovLen = 1, Control = control, ControlLen = (nuint)controlBytes };
            nint n = SocketCalls.recvmsg(fd, &msg, SocketCalls.MSG_DONTWAIT | SocketCalls.MSG_CMSG_CLOEXEC);
            if (n <= 0) return (bytes.ToArray(), fds.ToArray(), n == 0);
            bytes.AddRange(new ReadOnlySpan<byte>(buf, (int)n).ToArray());
            for (byte* c = control; msg.ControlLen >= (nuint)CmsgHdr.HeaderSize && c + CmsgHdr.HeaderSize <= control + (int)msg.ControlLen;)
            {
                CmsgHdr* h = (CmsgHdr*)c;
                if (h->Len < (nuint)CmsgHdr.HeaderSize) break;
                if (h->Level == SocketCalls.SOL_SOCKET && h->Type == SocketCalls.SCM_RIGHTS)
                    for (int i = 0; i < ((int)h->Len - CmsgHdr.HeaderSize) / sizeof(int); i++)
                        fds.Add(((int*)(c + CmsgHdr.HeaderSize))[i]);
                c += CmsgHdr.Space((int)h->Len - CmsgHdr.HeaderSize);
            }
            if (bytes.Count >= expectBytes) break;
            wait = (int)(quiet ?? TimeSpan.FromMilliseconds(100)).TotalMilliseconds;
        }
        return (bytes.ToArray(), fds.ToArray(), false);
    }

    public static void Close(IEnumerable<int> fds)
    {
        foreach (int fd in fds) LibC.close(fd);
    }
}
