namespace HotPath.Protocol.Transport;

/// <summary>SCM_RIGHTS control messages: fds that travel with a sendmsg.</summary>
public static unsafe class ScmRights
{
    /// <summary>Bytes of control buffer for <paramref name="fds"/> fds (at least one fd's worth, for stackalloc).</summary>
    public static int ControlSize(int fds) => CmsgHdr.Space(Math.Max(1, fds) * sizeof(int));

    /// <summary>Puts <paramref name="fds"/> into <paramref name="control"/> (<see cref="ControlSize"/> bytes) and
    /// points <paramref name="msg"/> at it; no fds, no control message.</summary>
    public static void Attach(ref MsgHdr msg, byte* control, ReadOnlySpan<int> fds)
    {
        if (fds.Length == 0) return;
        int dataBytes = fds.Length * sizeof(int);
        CmsgHdr* c = (CmsgHdr*)control;
        c->Len = (nuint)CmsgHdr.Length(dataBytes);
        c->Level = SocketCalls.SOL_SOCKET;
        c->Type = SocketCalls.SCM_RIGHTS;
        fds.CopyTo(new Span<int>(control + CmsgHdr.HeaderSize, fds.Length));
        msg.Control = control;
        msg.ControlLen = (nuint)CmsgHdr.Space(dataBytes);
    }
}
