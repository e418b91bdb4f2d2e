using HotPath.Engine.Interop;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Transport;

/// <summary>Sends vhost-user messages (header + payload + SCM_RIGHTS fds) with sendmsg.</summary>
public static unsafe class MessageWriter
{
    /// <summary>Sends a well-formed message; returns 0 or -errno.</summary>
    public static int Send(int socket, uint request, uint flags, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds = default)
    {
        MessageHeader h = new() { Request = request, Flags = flags, Size = (uint)payload.Length };
        return SendParts(socket, h, payload, fds);
    }

    /// <summary>
    /// Sends a header exactly as given (its size field may disagree with the payload: the malformed-message mode
    /// of the frontend and the hostile-input tests use this), followed by <paramref name="payload"/>.
    /// </summary>
    public static int SendParts(int socket, in MessageHeader header, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds)
    {
        MessageHeader h = header;
        int total = MessageHeader.WireSize + payload.Length;
        byte* control = stackalloc byte[ScmRights.ControlSize(fds.Length)];
        fixed (byte* pl = payload)
        {
            IoVec* iov = stackalloc IoVec[2];
            iov[0] = new IoVec { Base = &h, Len = MessageHeader.WireSize };
            iov[1] = new IoVec { Base = pl, Len = (nuint)payload.Length };
            MsgHdr msg = new() { Iov = iov, IovLen = payload.Length > 0 ? 2u : 1u };
            ScmRights.Attach(ref msg, control, fds);
            int sent = 0;
            while (sent < total)
            {
                nint n = SocketCalls.sendmsg(socket, &msg, SocketCalls.MSG_NOSIGNAL);
                if (n < 0)
                {
                    int e = LibC.Errno;
                    if (e == LibC.EINTR) continue;
                    return -e;
                }
                sent += (int)n;
                if (sent >= total) break;
                // A short write: the fds went with the first chunk; send the rest without them.
                msg.Control = null;
                msg.ControlLen = 0;
                AdvanceIov(iov, ref msg, (int)n);
            }
            return 0;
        }
    }

    private static void AdvanceIov(IoVec* iov, ref MsgHdr msg, int n)
    {
        while (n > 0 && msg.IovLen > 0)
        {
            int take = (int)Math.Min((nuint)n, msg.Iov->Len);
            msg.Iov->Base = (byte*)msg.Iov->Base + take;
            msg.Iov->Len -= (nuint)take;
            n -= take;
            if (msg.Iov->Len == 0)
            {
                msg.Iov++;
                msg.IovLen--;
            }
        }
    }

    /// <summary>Sends a u64 payload (GET_FEATURES replies, REPLY_ACK).</summary>
    public static int SendU64(int socket, uint request, uint flags, ulong value)
        => Send(socket, request, flags, new ReadOnlySpan<byte>(&value, 8));

    /// <summary>Sends a struct payload.</summary>
    public static int SendStruct<T>(int socket, uint request, uint flags, in T value, ReadOnlySpan<int> fds = default) where T : unmanaged
    {
        T copy = value;
        return Send(socket, request, flags, new ReadOnlySpan<byte>(&copy, sizeof(T)), fds);
    }
}
