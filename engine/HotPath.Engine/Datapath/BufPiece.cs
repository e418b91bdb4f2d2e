namespace HotPath.Engine.Datapath;

/// <summary>
/// One host-contiguous piece of a guest buffer, already translated and checked (DPDK's buf_vector entry, which also
/// keeps buf_iova). A descriptor becomes one piece, or several when its guest range crosses memory regions;
/// zero-length descriptors become none. Chain walkers fill arrays of these; the copy routines read only these, never
/// the descriptors. <see cref="Gpa"/> is the guest address <see cref="Host"/> was translated from: the cold features
/// (dirty logging) mark what was written from it, with no reverse translation.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 24)]
public unsafe struct BufPiece
{
    public byte* Host;
    public ulong Gpa;
    public uint Len;
    private readonly uint _pad;

    public BufPiece(byte* host, ulong gpa, uint len)
    {
        Host = host;
        Gpa = gpa;
        Len = len;
        _pad = 0;
    }
}
