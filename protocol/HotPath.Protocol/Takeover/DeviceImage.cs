using System.Runtime.InteropServices;
using HotPath.Engine;
using HotPath.Engine.Iommu;
using HotPath.Engine.Memory;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Protocol.Control;
using HotPath.Protocol.Control.Handlers;
using HotPath.Protocol.Wire;
using PF = HotPath.Protocol.Wire.ProtocolFeatures;

namespace HotPath.Protocol.Takeover;

/// <summary>One packet of a device's image; its fds are borrowed from the session (the kernel copies them on send).</summary>
internal readonly record struct ImageRecord(TakeoverKind Kind, byte[] Payload, int[] Fds);

/// <summary>
/// A quiesced device as the vhost-user messages that rebuild it, in the order a frontend sends them (features,
/// memory, log, inflight, IOTLB, then each vring), with the exact ring indexes where SET_VRING_BASE would be: the new
/// process runs them through its own handlers, so everything is validated there as if a frontend had sent it.
/// </summary>
internal static unsafe class DeviceImage
{
    /// <summary>Why a device cannot move now, or null.</summary>
    public static string? Blocker(VhostSession s) =>
        s.PostcopyFd != null ? "postcopy live migration in progress"
        : s.Device.Crypto != null ? "a crypto device (its sessions and keys do not move yet)"
        : null;

    /// <summary>The image of a session whose device is stopped (no burst runs: destroy_device has returned).</summary>
    public static List<ImageRecord> Capture(VhostSession s)
    {
        var r = new List<ImageRecord>();
        VhostDevice d = s.Device;
        ulong features = d.Features;
        bool protocol = VirtioFeatures.Has(features, VirtioFeatures.ProtocolFeatures);
        r.Add(U64(FrontendRequest.SetFeatures, features));
        if (protocol) r.Add(U64(FrontendRequest.SetProtocolFeatures, s.ProtocolFeatures));
        bool Has(int pf) => protocol && PF.Has(s.ProtocolFeatures, pf);

        int backend = s.BackendChannel?.Fd ?? -1;
        if (backend >= 0 && Has(PF.BackendReq)) r.Add(Message(FrontendRequest.SetBackendReqFd, [], backend));
        AddMemory(r, s, Has(PF.ConfigureMemSlots));
        if (d.Log is { } log)
            r.Add(Message(FrontendRequest.SetLogBase, Bytes(new LogPayload { MmapSize = log.Size, MmapOffset = log.MmapOffset }), log.Fd));
        if (s.LogFd >= 0) r.Add(Message(FrontendRequest.SetLogFd, [], s.LogFd));
        if (d.Inflight is { } inflight && Has(PF.InflightShmfd))
            r.Add(Message(FrontendRequest.SetInflightFd, Bytes(new InflightPayload
            {
                MmapSize = inflight.Size, MmapOffset = inflight.MmapOffset,
                NumQueues = inflight.NumQueues, QueueSize = inflight.QueueSize,
            }), inflight.Fd));
        if (s.Mtu != 0 && Has(PF.NetMtu)) r.Add(U64(FrontendRequest.NetSetMtu, s.Mtu));
        if (d.IotlbActive)
            foreach (IotlbEntry e in d.Iotlb.Entries)
                r.Add(Message(FrontendRequest.IotlbMsg, Bytes(new IotlbPayload
                {
                    Iova = e.Iova, Size = e.Size, UserAddr = e.UserAddr, Perm = e.Perm, Type = DeviceHandlers.IotlbUpdate,
                })));
        foreach (Vring v in d.Vrings) AddVring(r, v, protocol);
        r.Add(new ImageRecord(TakeoverKind.Config, s.ConfigSpace.ToArray(), []));
        if (s.Status != 0 && Has(PF.Status)) r.Add(U64(FrontendRequest.SetStatus, s.Status));
        return r;
    }

    private static void AddMemory(List<ImageRecord> r, VhostSession s, bool slots)
    {
        IReadOnlyList<MappedRegion> regions = s.Device.Regions;
        if (regions.Count == 0) return;
        if (regions.Count > MessageLimits.MaxSetMemTableRegions && slots)
        {
            foreach (MappedRegion m in regions)
                r.Add(Message(FrontendRequest.AddMemReg, Bytes(new MemRegPayload { Region = Region(m) }), m.Fd));
            return;
        }
        int n = Math.Min(regions.Count, MessageLimits.MaxSetMemTableRegions);
        byte[] payload = new byte[sizeof(MemoryTableHeader) + n * sizeof(MemoryRegionPayload)];
        MemoryMarshal.Write(payload, new MemoryTableHeader { NRegions = (uint)n });
        var fds = new int[n];
        for (int i = 0; i < n; i++)
        {
            MemoryMarshal.Write(payload.AsSpan(sizeof(MemoryTableHeader) + i * sizeof(MemoryRegionPayload)), Region(regions[i]));
            fds[i] = regions[i].Fd;
        }
        r.Add(Message(FrontendRequest.SetMemTable, payload, fds));
    }

    private static MemoryRegionPayload Region(MappedRegion m) => new()
    {
        GuestPhysAddr = m.Descriptor.GuestPhysAddr, MemorySize = m.Descriptor.Size,
        UserspaceAddr = m.Descriptor.UserAddr, MmapOffset = m.Descriptor.MmapOffset,
    };

    private static void AddVring(List<ImageRecord> r, Vring v, bool protocol)
    {
        uint i = (uint)v.Index;
        using VringLockScope held = v.Hold();
        if (v.Size != 0) r.Add(Message(FrontendRequest.SetVringNum, Bytes(new VringStatePayload { Index = i, Num = v.Size })));
        if (v.AddrSet)
            r.Add(Message(FrontendRequest.SetVringAddr, Bytes(new VringAddrPayload
            {
                Index = i, Flags = v.AddrFlags, DescUserAddr = v.DescUserAddr, UsedUserAddr = v.UsedUserAddr,
                AvailUserAddr = v.AvailUserAddr, LogGuestAddr = v.LogGuestAddr,
            })));
        r.Add(new ImageRecord(TakeoverKind.Rings, Bytes(new RingIndexes
        {
            Index = i, LastAvailIdx = v.LastAvailIdx, LastUsedIdx = v.LastUsedIdx,
            AvailWrap = (byte)(v.AvailWrapCounter ? 1 : 0), UsedWrap = (byte)(v.UsedWrapCounter ? 1 : 0),
        }), []));
        AddFd(r, FrontendRequest.SetVringKick, i, v.KickFd);
        AddFd(r, FrontendRequest.SetVringCall, i, v.CallFd);
        AddFd(r, FrontendRequest.SetVringErr, i, v.ErrFd);
        if (protocol) r.Add(Message(FrontendRequest.SetVringEnable, Bytes(new VringStatePayload { Index = i, Num = v.Enabled ? 1u : 0u })));
    }

    private static void AddFd(List<ImageRecord> r, FrontendRequest request, uint index, int fd)
    {
        if (fd == Vring.FdUninitialized) return;
        ulong value = index | (fd == Vring.FdNone ? VringFdPayload.NoFdFlag : 0);
        r.Add(fd >= 0 ? Message(request, Bytes(value), fd) : Message(request, Bytes(value)));
    }

    private static ImageRecord U64(FrontendRequest request, ulong value) => Message(request, Bytes(value));

    private static ImageRecord Message(FrontendRequest request, byte[] payload, params int[] fds)
    {
        byte[] m = new byte[MessageHeader.WireSize + payload.Length];
        MemoryMarshal.Write(m, new MessageHeader { Request = (uint)request, Flags = MessageHeader.Version, Size = (uint)payload.Length });
        payload.CopyTo(m, MessageHeader.WireSize);
        return new ImageRecord(TakeoverKind.Message, m, fds);
    }

    private static byte[] Bytes<T>(T value) where T : unmanaged
    {
        byte[] b = new byte[sizeof(T)];
        MemoryMarshal.Write(b, value);
        return b;
    }
}
