namespace HotPath.Engine.Datapath;

/// <summary>
/// One host-contiguous piece of a guest buffer, already translated and checked (DPDK's buf_vector entry). A
/// descriptor becomes one piece, or several when its guest range crosses memory regions; zero-length descriptors
/// become none. Chain walkers fill arrays of these; the copy routines read only these, never the descriptors.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
public unsafe struct BufPiece
{
    public byte* Host;
    public uint Len;
    private readonly uint _pad;

    public BufPiece(byte* host, uint len)
    {
        Host = host;
        Len = len;
        _pad = 0;
    }
}
