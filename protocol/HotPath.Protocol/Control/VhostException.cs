namespace HotPath.Protocol.Control;

/// <summary>A refused API call: a readable message and the negative errno the C API returns for it.</summary>
public sealed class VhostException : Exception
{
    public int Errno { get; }

    public VhostException(string message, int errno = HotPath.Engine.Interop.LibC.EINVAL) : base(message) => Errno = errno;
}
