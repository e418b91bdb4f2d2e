using HotPath.Frontend.Memory;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

/// <summary>An IOTLB miss the backend sent on the backend-request channel.</summary>
public readonly record struct IotlbMissRequest(ulong Iova, byte Perm);

// IOTLB mode (NetDeviceOptions.Iommu): the frontend is the guest's IOMMU.
public sealed partial class VhostUserFrontend
{
    public const byte IotlbMiss = 1, IotlbUpdateType = 2, IotlbInvalidateType = 3, IotlbAccessFail = 4;
    public const byte PermRead = 1, PermWrite = 2, PermReadWrite = 3;

    /// <summary>IOTLB_MSG UPDATE: [iova, iova+size) is the frontend memory at <paramref name="userAddr"/>, with <paramref name="perm"/>.</summary>
    /// <remarks><paramref name="type"/> other than UPDATE: for hostile-message tests.</remarks>
    public void IotlbUpdate(ulong iova, ulong size, ulong userAddr, byte perm, byte type = IotlbUpdateType) =>
        Post(FrontendRequest.IotlbMsg, FrontendPayloads.Iotlb(iova, size, userAddr, perm, type));

    /// <summary>IOTLB_MSG INVALIDATE of [iova, iova+size). With REPLY_ACK, returns once the backend acknowledged it.</summary>
    public void IotlbInvalidate(ulong iova, ulong size) =>
        Post(FrontendRequest.IotlbMsg, FrontendPayloads.Iotlb(iova, size, 0, 0, IotlbInvalidateType));

    /// <summary>The IOVA this frontend gives guest physical address <paramref name="gpa"/> (<see cref="NetDeviceOptions.IovaOffset"/>).</summary>
    public ulong Iova(ulong gpa) => gpa + _options.IovaOffset;

    /// <summary>The guest physical address of <paramref name="iova"/> (a miss the backend sent, say).</summary>
    public ulong GpaOfIova(ulong iova) => iova - _options.IovaOffset;

    /// <summary>Maps [gpa, gpa+size) of <paramref name="memory"/> at its IOVA (inside one region).</summary>
    public void IotlbMap(FrontendMemory memory, ulong gpa, ulong size, byte perm) =>
        IotlbUpdate(Iova(gpa), size, memory.UserAddr(gpa), perm);

    /// <summary>Maps every region of <paramref name="memory"/> at its IOVAs with <paramref name="perm"/>.</summary>
    public void IotlbMapAll(FrontendMemory memory, byte perm = PermReadWrite)
    {
        foreach (FrontendMemory.Region r in memory.Regions) IotlbUpdate(Iova(r.GuestPhysAddr), r.Size, r.UserAddr, perm);
    }

    /// <summary>
    /// Reads the backend-request channel for up to <paramref name="timeout"/> and answers every IOTLB miss on it with
    /// <paramref name="answer"/> (which sends the updates it wants, or none); other requests are acked with 0 when
    /// they ask for a reply. Returns the misses seen.
    /// </summary>
    public List<IotlbMissRequest> ServeIotlbMisses(TimeSpan timeout, Action<IotlbMissRequest> answer)
    {
        BackendChannel channel = _backendChannel ?? throw new InvalidOperationException("IOTLB mode needs the backend channel");
        var seen = new List<IotlbMissRequest>();
        TimeSpan wait = timeout;
        while (true)
        {
            using BackendMessage? m = channel.ServeOne(wait, _ => 0);
            if (m == null) return seen;
            wait = TimeSpan.FromMilliseconds(1);   // drain what is already there, then return
            if (m.Request != BackendRequest.IotlbMsg || m.Payload.Length < 26) continue;
            var p = System.Runtime.InteropServices.MemoryMarshal.Read<IotlbPayload>(m.Payload);
            if (p.Type != IotlbMiss) continue;
            var miss = new IotlbMissRequest(p.Iova, p.Perm);
            seen.Add(miss);
            answer(miss);
        }
    }
}
