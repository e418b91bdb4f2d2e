using System.Runtime.InteropServices;
using HotPath.Engine.Interop;
using HotPath.Engine.Virtio;
using HotPath.Protocol.Control;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;
using PF = HotPath.Protocol.Wire.ProtocolFeatures;

namespace HotPath.Protocol.Takeover;

/// <summary>
/// A takeover's steps, once, on a throwaway device inside this process, when a driver that may take part in one
/// starts: a device is built from messages, captured, sent over a socket pair, received and rebuilt, then discarded.
/// A JIT-compiled application (the managed API) would otherwise compile all of that inside its first takeover's pause
/// (about 100 ms measured, against well under 1 ms warm); NativeAOT has nothing to compile and this costs it
/// microseconds. Nothing of it is visible: no vid, no callback, no frontend.
/// </summary>
internal static unsafe class TakeoverRehearsal
{
    private static int s_done;

    public static void Run(VhostDriver driver)
    {
        if (Interlocked.Exchange(ref s_done, 1) != 0) return;
        try
        {
            RunOnce(driver);
        }
        catch (Exception e)
        {
            ControlLog.Write(LogLevel.Debug, driver.Path, $"takeover rehearsal: {e.Message}");
        }
    }

    private static void RunOnce(VhostDriver driver)
    {
        const int Ring = 256;
        int* conn = stackalloc int[2];
        int* chan = stackalloc int[2];
        if (SocketCalls.socketpair(SocketCalls.AF_UNIX, SocketCalls.SOCK_STREAM | SocketCalls.SOCK_CLOEXEC, 0, conn) != 0) return;
        if (SocketCalls.socketpair(SocketCalls.AF_UNIX, TakeoverChannel.SOCK_SEQPACKET | SocketCalls.SOCK_CLOEXEC, 0, chan) != 0)
        {
            LibC.close(conn[0]);
            LibC.close(conn[1]);
            return;
        }
        int memory = LibC.MemfdCreate("hotpath-takeover-rehearsal", 1 << 20);
        VhostSession? source = null, target = null;
        using var send = new TakeoverChannel(chan[0]);
        using var receive = new TakeoverChannel(chan[1]);
        try
        {
            if (memory < 0) return;
            source = VhostSession.ForTakeover(driver, conn[0], -1);
            ulong features = driver.Features & (VirtioFeatures.Bit(VirtioFeatures.Version1) | VirtioFeatures.Bit(VirtioFeatures.ProtocolFeatures));
            ulong protocol = driver.ProtocolFeatures & PF.Bit(PF.Status);
            Replay(source, FrontendRequest.SetFeatures, features);
            if (VirtioFeatures.Has(features, VirtioFeatures.ProtocolFeatures)) Replay(source, FrontendRequest.SetProtocolFeatures, protocol);
            Replay(source, FrontendRequest.SetMemTable, MemTable(), LibC.dup(memory));
            for (uint i = 0; i < 2; i++)
            {
                ulong at = 0x10000 + i * 0x10000;
                Replay(source, FrontendRequest.SetVringNum, new VringStatePayload { Index = i, Num = Ring });
                Replay(source, FrontendRequest.SetVringAddr, new VringAddrPayload
                {
                    Index = i, DescUserAddr = UserAddr + at, AvailUserAddr = UserAddr + at + 0x1000, UsedUserAddr = UserAddr + at + 0x2000,
                });
                Replay(source, FrontendRequest.SetVringKick, (ulong)i, LibC.eventfd(0, 0x80000));
                Replay(source, FrontendRequest.SetVringCall, (ulong)i, LibC.eventfd(0, 0x80000));
            }

            // The old side's half, then the new side's, as a real takeover runs them.
            foreach (ImageRecord r in DeviceImage.Capture(source)) send.Send(r.Kind, r.Payload, r.Fds);
            send.Send(TakeoverKind.DeviceEnd, ReadOnlySpan<byte>.Empty);
            target = VhostSession.ForTakeover(driver, conn[1], -1);
            conn[1] = -1;
            while (receive.Receive("rehearsal") is { } p)
            {
                string? why = p.Kind switch
                {
                    TakeoverKind.Message => target.Replay(p.Payload, p.Fds),
                    TakeoverKind.Rings => target.ApplyRingIndexes(p.As<RingIndexes>()),
                    TakeoverKind.Config => target.ApplyConfig(p.Payload),
                    _ => null,
                };
                if (p.Kind != TakeoverKind.Message) p.CloseFds();
                if (why != null) throw new TakeoverException(why);
                if (p.Kind == TakeoverKind.DeviceEnd) break;
            }
        }
        finally
        {
            source?.Discard("rehearsal");
            target?.Discard("rehearsal");
            if (source == null) LibC.close(conn[0]);
            if (conn[1] >= 0) LibC.close(conn[1]);
            if (memory >= 0) LibC.close(memory);
        }
    }

    /// <summary>The rehearsal region's user address (any value: it is the frontend's address space, never used).</summary>
    private const ulong UserAddr = 0x7f00_0000_0000;

    private static byte[] MemTable()
    {
        byte[] p = new byte[sizeof(MemoryTableHeader) + sizeof(MemoryRegionPayload)];
        MemoryMarshal.Write(p, new MemoryTableHeader { NRegions = 1 });
        MemoryMarshal.Write(p.AsSpan(sizeof(MemoryTableHeader)), new MemoryRegionPayload
        {
            GuestPhysAddr = 0, MemorySize = 1 << 20, UserspaceAddr = UserAddr, MmapOffset = 0,
        });
        return p;
    }

    private static void Replay<T>(VhostSession s, FrontendRequest request, T payload, int fd = -1) where T : unmanaged
    {
        byte[] bytes = new byte[sizeof(T)];
        MemoryMarshal.Write(bytes, payload);
        Replay(s, request, bytes, fd);
    }

    private static void Replay(VhostSession s, FrontendRequest request, byte[] payload, int fd)
    {
        byte[] m = new byte[MessageHeader.WireSize + payload.Length];
        MemoryMarshal.Write(m, new MessageHeader { Request = (uint)request, Flags = MessageHeader.Version, Size = (uint)payload.Length });
        payload.CopyTo(m, MessageHeader.WireSize);
        string? why = fd >= 0 ? s.Replay(m, [fd]) : s.Replay(m, []);
        if (why != null) throw new TakeoverException(why);
    }
}
