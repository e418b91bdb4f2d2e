using System.Runtime.InteropServices;
using HotPath.Engine.Memory;
using HotPath.Engine.Vrings;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Control.Handlers;

/// <summary>SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG, GET_MAX_MEM_SLOTS.</summary>
internal static unsafe class MemoryHandlers
{
    /// <summary>Payload rule of SET_MEM_TABLE: 8-byte header then exactly nregions entries, nregions bounded.</summary>
    public static bool MemTableSizeOk(MessageReader m)
    {
        if (m.PayloadLength < sizeof(MemoryTableHeader)) return false;
        uint n = m.PayloadAs<MemoryTableHeader>().NRegions;
        return n <= MessageLimits.MaxSetMemTableRegions &&
               m.PayloadLength == sizeof(MemoryTableHeader) + n * sizeof(MemoryRegionPayload);
    }

    private static RegionDescriptor Describe(in MemoryRegionPayload r) =>
        new(r.GuestPhysAddr, r.MemorySize, r.UserspaceAddr, r.MmapOffset);

    public static HandlerResult SetMemTable(VhostSession s, MessageReader m)
    {
        uint n = m.PayloadAs<MemoryTableHeader>().NRegions;
        if (n == 0) return HandlerResult.Fail(ControlError.BadMemoryTable, MemoryError.NoRegions.Describe());
        var regions = new RegionDescriptor[n];
        var entries = (MemoryRegionPayload*)((byte*)m.RawMessage + MessageHeader.WireSize + sizeof(MemoryTableHeader));
        for (int i = 0; i < n; i++)
        {
            regions[i] = Describe(entries[i]);
            MemoryError e = regions[i].Validate();
            if (e != MemoryError.None) return HandlerResult.Fail(ControlError.BadMemoryTable, $"region {i}: {e.Describe()}");
        }
        // A frontend may resend the table it already sent (DPDK virtio-user does); keep the mappings then.
        if (SameAsCurrent(s, regions)) return s.PostcopyListening ? ReplyPostcopyTable(s, entries, n) : HandlerResult.Ok;
        s.RemovedRegions.Clear();

        var mapped = new List<MappedRegion>((int)n);
        for (int i = 0; i < n; i++)
        {
            int fd = m.TakeFd(i);
            MemoryError e = MappedRegion.TryMap(fd, regions[i], out MappedRegion? r, s.Driver.RequireSealedMemory);
            if (e != MemoryError.None)
            {
                if (fd >= 0) HotPath.Engine.Interop.LibC.close(fd);
                mapped.ForEach(x => x.Dispose());
                return HandlerResult.Fail(ControlError.BadMemoryTable, $"region {i}: {e.Describe()}");
            }
            WarnIfUnsealed(s, r!);
            if (!PostcopyHandlers.TryRegister(s, r!, out string? why))
            {
                r!.Dispose();
                mapped.ForEach(x => x.Dispose());
                return HandlerResult.Fail(ControlError.PostcopyRegisterFailed, $"region {i}: {why}");
            }
            mapped.Add(r!);
        }
        MemoryError swap = s.Device.ReplaceMemory(mapped);
        if (swap != MemoryError.None)
        {
            mapped.ForEach(x => x.Dispose());
            return HandlerResult.Fail(ControlError.BadMemoryTable, swap.Describe());
        }
        ReportBrokenRings(s);
        s.Log(LogLevel.Debug, $"memory table: {n} regions, {s.Device.Memory!.TotalSize >> 20} MiB");
        return s.PostcopyListening ? ReplyPostcopyTable(s, entries, n) : HandlerResult.Ok;
    }

    /// <summary>
    /// Postcopy: the table goes back with each region's userspace_addr replaced by its address in this process, so
    /// the frontend can tell which page a fault on its userfaultfd is for. It then sends a u64 0 (see
    /// VhostSession.TryConsumePostcopyAck).
    /// </summary>
    private static HandlerResult ReplyPostcopyTable(VhostSession s, MemoryRegionPayload* entries, uint n)
    {
        Span<byte> reply = s.ReplyBuffer;
        MemoryMarshal.Write(reply, new MemoryTableHeader { NRegions = n });
        for (int i = 0; i < n; i++)
        {
            MemoryRegionPayload e = entries[i];
            e.UserspaceAddr = (ulong)HostOf(s, Describe(e));
            MemoryMarshal.Write(reply[(sizeof(MemoryTableHeader) + i * sizeof(MemoryRegionPayload))..], e);
        }
        return s.ReplyBytes(sizeof(MemoryTableHeader) + (int)n * sizeof(MemoryRegionPayload));
    }

    private static byte* HostOf(VhostSession s, in RegionDescriptor d)
    {
        foreach (MappedRegion r in s.Device.Regions)
            if (r.Descriptor == d) return r.Host;
        return null;
    }

    /// <summary>Postcopy: ADD_MEM_REG is answered with the region and its address in this process.</summary>
    private static HandlerResult ReplyPostcopyRegion(VhostSession s, MemRegPayload p, in RegionDescriptor d)
    {
        p.Region.UserspaceAddr = (ulong)HostOf(s, d);
        return s.ReplyStruct(p);
    }

    private static bool SameAsCurrent(VhostSession s, RegionDescriptor[] regions)
    {
        IReadOnlyList<MappedRegion> current = s.Device.Regions;
        if (current.Count != regions.Length) return false;
        foreach (RegionDescriptor d in regions)
            if (!current.Any(r => r.Descriptor == d)) return false;
        return true;
    }

    /// <summary>Rings that no longer translate under the new table are broken; say so once.</summary>
    private static void ReportBrokenRings(VhostSession s)
    {
        foreach (var v in s.Device.Vrings)
            if (v.IsBroken) s.Log(LogLevel.Warning, $"vring {v.Index}: {v.BrokenReason.Describe()} after the memory table change");
    }

    /// <summary>A region mapped without F_SEAL_SHRINK (its fd cannot be sealed): the frontend could still truncate it.</summary>
    private static void WarnIfUnsealed(VhostSession s, MappedRegion r)
    {
        if (r.ShrinkSealed) return;
        ControlCounters.CountUnsealedRegion();
        ControlLog.WriteOnce("unsealed-region", LogLevel.Warning, s.Context, $"region gpa 0x{r.GuestPhysAddr:x} mapped without " +
            "F_SEAL_SHRINK (a hugetlbfs/tmpfs file or unsealable memfd): a truncation by the frontend would raise SIGBUS; " +
            "HP_VHOST_USER_REQUIRE_SEALED_MEMORY refuses such memory");
    }

    public static HandlerResult GetMaxMemSlots(VhostSession s, MessageReader m) => s.ReplyU64(GuestMemory.MaxRegions);

    /*
     * QEMU before 8.0 sends ADD_MEM_REG and REM_MEM_REG once per queue pair: each queue pair is a vhost_dev of its
     * own with its own copy of the region list, and only QEMU commit "vhost-user: Skip unnecessary duplicated
     * VHOST_USER_ADD/REM_MEM_REG requests" made them one-time requests like SET_MEM_TABLE. With multiqueue, the
     * second queue pair therefore adds every region the first one added, and removes every region it removed.
     * An exact repeat is a no-op here: an ADD of a region that is already mapped from the same file at the same
     * offset, and a REM of a region this connection removed and has not added again. Anything else that overlaps
     * is still refused.
     */

    public static HandlerResult AddMemReg(VhostSession s, MessageReader m)
    {
        RegionDescriptor d = Describe(m.PayloadAs<MemRegPayload>().Region);
        IReadOnlyList<MappedRegion> current = s.Device.Regions;
        int fd = m.TakeFd(0);
        MappedRegion? same = current.FirstOrDefault(r => r.Descriptor == d);
        if (same != null && same.IsSameFile(fd))
        {
            HotPath.Engine.Interop.LibC.close(fd);
            s.Log(LogLevel.Debug, $"ADD_MEM_REG of the mapped region gpa 0x{d.GuestPhysAddr:x} size 0x{d.Size:x} again (one per queue pair, QEMU < 8.0): kept as it is");
            return s.PostcopyListening ? ReplyPostcopyRegion(s, m.PayloadAs<MemRegPayload>(), d) : HandlerResult.Ok;
        }
        if (current.Count >= GuestMemory.MaxRegions)
        {
            HotPath.Engine.Interop.LibC.close(fd);
            return HandlerResult.Fail(ControlError.MemorySlotsExhausted, $"all {GuestMemory.MaxRegions} slots in use");
        }
        MemoryError e = MappedRegion.TryMap(fd, d, out MappedRegion? region, s.Driver.RequireSealedMemory);
        if (e != MemoryError.None)
        {
            HotPath.Engine.Interop.LibC.close(fd);
            return HandlerResult.Fail(ControlError.BadMemoryRegion, e.Describe());
        }
        WarnIfUnsealed(s, region!);
        if (!PostcopyHandlers.TryRegister(s, region!, out string? why))
        {
            region!.Dispose();
            return HandlerResult.Fail(ControlError.PostcopyRegisterFailed, why);
        }
        var next = new List<MappedRegion>(current) { region! };
        MemoryError swap = s.Device.ReplaceMemory(next);
        if (swap != MemoryError.None)
        {
            region!.Dispose();
            return HandlerResult.Fail(ControlError.BadMemoryRegion, swap.Describe());
        }
        s.RemovedRegions.RemoveAll(r => SameIdentity(r, d));
        ReportBrokenRings(s);
        return s.PostcopyListening ? ReplyPostcopyRegion(s, m.PayloadAs<MemRegPayload>(), d) : HandlerResult.Ok;
    }

    /// <summary>The spec identifies a region to remove by guest address, user address and size (not the offset).</summary>
    private static bool SameIdentity(in RegionDescriptor a, in RegionDescriptor b) =>
        a.GuestPhysAddr == b.GuestPhysAddr && a.UserAddr == b.UserAddr && a.Size == b.Size;

    public static HandlerResult RemMemReg(VhostSession s, MessageReader m)
    {
        RegionDescriptor d = Describe(m.PayloadAs<MemRegPayload>().Region);
        IReadOnlyList<MappedRegion> current = s.Device.Regions;
        MappedRegion? victim = current.FirstOrDefault(r => SameIdentity(r.Descriptor, d));
        if (victim == null)
        {
            if (s.RemovedRegions.Any(r => SameIdentity(r, d)))
            {
                s.Log(LogLevel.Debug, $"REM_MEM_REG of the removed region gpa 0x{d.GuestPhysAddr:x} size 0x{d.Size:x} again (one per queue pair, QEMU < 8.0)");
                return HandlerResult.Ok;
            }
            return HandlerResult.Fail(ControlError.RegionNotFound, $"gpa 0x{d.GuestPhysAddr:x} size 0x{d.Size:x}");
        }
        var next = current.Where(r => r != victim).ToList();
        if (next.Count == 0) s.Device.ClearMemory();
        else
        {
            MemoryError swap = s.Device.ReplaceMemory(next);
            if (swap != MemoryError.None) return HandlerResult.Fail(ControlError.BadMemoryRegion, swap.Describe());
        }
        if (s.RemovedRegions.Count == GuestMemory.MaxRegions) s.RemovedRegions.RemoveAt(0);
        s.RemovedRegions.Add(d);
        ReportBrokenRings(s);
        return HandlerResult.Ok;
    }
}
