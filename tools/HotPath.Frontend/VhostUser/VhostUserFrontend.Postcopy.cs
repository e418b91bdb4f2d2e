using System.Runtime.InteropServices;
using HotPath.Frontend.Memory;
using HotPath.Protocol.Wire;

namespace HotPath.Frontend.VhostUser;

// Postcopy live migration on the destination, as QEMU's vhost_user_postcopy_* do it (PAGEFAULT).
public sealed partial class VhostUserFrontend
{
    /// <summary>True between <see cref="PostcopyListen"/> and <see cref="PostcopyEnd"/>: SET_MEM_TABLE then takes its
    /// postcopy form.</summary>
    public bool PostcopyListening { get; private set; }

    /// <summary>
    /// The backend's address of each region's first byte (index = region), from the last postcopy SET_MEM_TABLE reply:
    /// what a fault address read from the userfaultfd is relative to.
    /// </summary>
    public IReadOnlyList<ulong> PostcopyClientBases { get; private set; } = [];

    /// <summary>POSTCOPY_ADVISE: the backend's userfaultfd (the caller owns it).</summary>
    public int PostcopyAdvise()
    {
        const FrontendRequest req = FrontendRequest.PostcopyAdvise;
        using ReceivedMessage reply = Call(req, default);
        ExpectSize(req, reply, 0, "POSTCOPY_ADVISE reply (empty, with the userfaultfd)");
        ExpectFds(req, reply, 1);
        return reply.TakeFd(0);
    }

    /// <summary>POSTCOPY_LISTEN, acked (QEMU always asks for the ack).</summary>
    public void PostcopyListen()
    {
        CallAcked(FrontendRequest.PostcopyListen);
        PostcopyListening = true;
    }

    /// <summary>POSTCOPY_END, acked: the backend releases its userfaultfd.</summary>
    public void PostcopyEnd()
    {
        CallAcked(FrontendRequest.PostcopyEnd);
        PostcopyListening = false;
    }

    private void CallAcked(FrontendRequest req)
    {
        Check(req);
        Send(req, default, default, MessageHeader.FlagNeedReply);
        ReceiveAck(req);
    }

    /// <summary>
    /// The postcopy SET_MEM_TABLE: no NEED_REPLY; the backend answers with the table, each userspace_addr replaced by
    /// its own mapping's address; the frontend records those bases and then says it is ready for faults (a u64 0
    /// under the same request id).
    /// </summary>
    private void SetMemTablePostcopy(FrontendMemory memory, int[] fds)
    {
        const FrontendRequest req = FrontendRequest.SetMemTable;
        byte[] table = FrontendPayloads.MemTable(memory);
        Check(req);
        Send(req, table, fds, 0);
        var bases = new ulong[memory.Regions.Count];
        using (ReceivedMessage reply = Receive(req))
        {
            ExpectSize(req, reply, table.Length, "postcopy memory table reply");
            ExpectFds(req, reply, 0);
            int header = Marshal.SizeOf<MemoryTableHeader>(), entry = Marshal.SizeOf<MemoryRegionPayload>();
            for (int i = 0; i < bases.Length; i++)
            {
                var region = MemoryMarshal.Read<MemoryRegionPayload>(reply.Payload.AsSpan(header + i * entry));
                if (region.GuestPhysAddr != memory.Regions[i].GuestPhysAddr || region.UserspaceAddr == 0)
                    throw Break(req, VhostUserFailure.MalformedReply,
                        $"postcopy reply region {i}: gpa 0x{region.GuestPhysAddr:x} at 0x{region.UserspaceAddr:x}, expected gpa 0x{memory.Regions[i].GuestPhysAddr:x}");
                bases[i] = region.UserspaceAddr;
            }
        }
        PostcopyClientBases = bases;
        Send(req, FrontendPayloads.Of(0UL), default, 0);
    }

    /// <summary>
    /// The postcopy ADD_MEM_REG (CONFIGURE_MEM_SLOTS, QEMU's path when both sides have it): each region is answered
    /// with the backend's address of it, returned here; once every change is sent, <see cref="PostcopyMemoryDone"/>.
    /// </summary>
    private ulong AddMemRegPostcopy(MemoryRegionPayload region, int fd)
    {
        const FrontendRequest req = FrontendRequest.AddMemReg;
        byte[] payload = FrontendPayloads.MemReg(region);
        Check(req);
        Send(req, payload, [fd], 0);
        using ReceivedMessage reply = Receive(req);
        ExpectSize(req, reply, payload.Length, "postcopy ADD_MEM_REG reply");
        ExpectFds(req, reply, 0);
        MemoryRegionPayload got = reply.PayloadAs<MemRegPayload>().Region;
        if (got.GuestPhysAddr != region.GuestPhysAddr || got.UserspaceAddr == 0)
            throw Break(req, VhostUserFailure.MalformedReply,
                $"postcopy reply: gpa 0x{got.GuestPhysAddr:x} at 0x{got.UserspaceAddr:x}, expected gpa 0x{region.GuestPhysAddr:x}");
        PostcopyClientBases = [.. PostcopyClientBases, got.UserspaceAddr];
        return got.UserspaceAddr;
    }

    /// <summary>After postcopy ADD_MEM_REGs: the u64 0 that tells the backend the frontend is ready for faults (QEMU
    /// reuses the last request's header).</summary>
    public void PostcopyMemoryDone() => Send(FrontendRequest.AddMemReg, FrontendPayloads.Of(0UL), default, 0);
}
