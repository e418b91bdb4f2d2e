using HotPath.Engine.Interop;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>
/// The inflight-descriptor tracking area a backend hands out with GET_INFLIGHT_FD (protocol feature INFLIGHT_SHMFD):
/// its fd, size and offset, kept by the frontend and given back with SET_INFLIGHT_FD after a reconnect. Owns the fd.
/// </summary>
public sealed class InflightArea : IDisposable
{
    public InflightArea(int fd, ulong mmapSize, ulong mmapOffset, ushort numQueues, ushort queueSize)
    {
        Fd = fd;
        MmapSize = mmapSize;
        MmapOffset = mmapOffset;
        NumQueues = numQueues;
        QueueSize = queueSize;
    }

    public int Fd { get; private set; }
    public ulong MmapSize { get; }
    public ulong MmapOffset { get; }
    public ushort NumQueues { get; }
    public ushort QueueSize { get; }

    public InflightPayload Payload => new()
    {
        MmapSize = MmapSize,
        MmapOffset = MmapOffset,
        NumQueues = NumQueues,
        QueueSize = QueueSize,
    };

    /// <summary>Size of the file behind <see cref="Fd"/> (checks the backend gave a file as large as it says).</summary>
    public long FileSize => LibC.FileSize(Fd);

    public void Dispose()
    {
        if (Fd >= 0) LibC.close(Fd);
        Fd = -1;
    }
}
