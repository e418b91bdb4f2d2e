using System.Runtime.InteropServices;
using HotPath.Engine.Interop;
using HotPath.Engine.Memory;
using HotPath.Engine.Vrings;
using HotPath.Native.Interop;
using HotPath.Protocol.Control;

namespace HotPath.Native.Exports;

/// <summary>
/// Guest memory and raw ring access for applications that drive rings themselves (non-net devices):
/// <c>hp_vhost_get_mem_table</c>, <c>hp_vhost_va_from_guest_pa</c> and <c>hp_vhost_get_vhost_vring</c>.
/// </summary>
internal static unsafe class MemoryExports
{
    /// <summary>
    /// A malloc'ed copy of the current memory table; the caller frees it with free(). The host addresses stay valid
    /// until the frontend replaces the table (destroy_device is called before that), as in DPDK.
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_mem_table")]
    public static int GetMemTable(int vid, NativeMemTable** mem)
    {
        const string fn = "hp_vhost_get_mem_table";
        try
        {
            VhostSession? s = Args.Session(fn, vid);
            if (s == null || !Args.NotNull(fn, "mem", mem)) return -1;
            // The table object is immutable: one read gives a consistent set of regions.
            GuestMemory? table = s.Device.Memory;
            if (table == null) return LastError.Set(fn, $"vid {vid} has no guest memory table yet", LibC.EAGAIN);
            IReadOnlyList<MappedRegion> regions = table.Regions;
            nuint bytes = (nuint)(sizeof(NativeMemTable) + regions.Count * sizeof(NativeMemRegion));
            var m = (NativeMemTable*)NativeMemory.Alloc(bytes);   // malloc: the caller frees it with free()
            if (m == null) return LastError.Set(fn, $"malloc of {bytes} bytes failed", LibC.ENOMEM);
            m->NRegions = (uint)regions.Count;
            NativeMemRegion* r = NativeMemTable.Regions(m);
            for (int i = 0; i < regions.Count; i++)
            {
                MappedRegion src = regions[i];
                r[i] = new NativeMemRegion
                {
                    GuestPhysAddr = src.GuestPhysAddr,
                    GuestUserAddr = src.UserAddr,
                    HostUserAddr = (ulong)src.Host,
                    Size = src.Size,
                    MmapAddr = (void*)src.MapBase,
                    MmapSize = src.MapLength,
                    Fd = src.Fd,
                };
            }
            *mem = m;
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    /// <summary>
    /// Host address of <paramref name="gpa"/> in a table from hp_vhost_get_mem_table, with <paramref name="len"/>
    /// cut to the bytes contiguous from there in one region (as DPDK's inline). 0, and *len = 0, when unmapped.
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_va_from_guest_pa")]
    public static ulong VaFromGuestPa(NativeMemTable* mem, ulong gpa, ulong* len)
    {
        const string fn = "hp_vhost_va_from_guest_pa";
        try
        {
            if (!Args.NotNull(fn, "mem", mem) || !Args.NotNull(fn, "len", len)) return 0;
            uint n = mem->NRegions;
            if (n > GuestMemory.MaxRegions)
            {
                LastError.Set(fn, $"nregions {n} is more than {GuestMemory.MaxRegions}: not a table from hp_vhost_get_mem_table");
                return 0;
            }
            NativeMemRegion* r = NativeMemTable.Regions(mem);
            for (uint i = 0; i < n; i++)
            {
                ulong offset = gpa - r[i].GuestPhysAddr;   // wraps to a huge value when gpa is below the region
                if (gpa < r[i].GuestPhysAddr || offset >= r[i].Size) continue;
                ulong contiguous = r[i].Size - offset;
                if (*len > contiguous) *len = contiguous;
                return r[i].HostUserAddr + offset;
            }
            *len = 0;
            LastError.Set(fn, $"guest physical address 0x{gpa:x} is not in any of the {n} regions", LibC.EFAULT);
            return 0;
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    /// <summary>Raw ring pointers, eventfds (-1: none, -2: not received yet), log address and size of a vring.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_get_vhost_vring")]
    public static int GetVhostVring(int vid, ushort vringIdx, NativeVring* vring)
    {
        const string fn = "hp_vhost_get_vhost_vring";
        try
        {
            Vring? v = Args.Vring(fn, vid, vringIdx, out _);
            if (v == null || !Args.NotNull(fn, "vring", vring)) return -1;
            using (v.Hold())
            {
                if (!v.IsTranslated) return LastError.Set(fn, $"vring {vringIdx} of vid {vid} has no translated addresses yet", LibC.EAGAIN);
                *vring = new NativeVring
                {
                    Desc = v.Desc,
                    Avail = v.Avail,
                    Used = v.Used,
                    LogGuestAddr = v.LogGuestPhysAddr,   // as DPDK: translated from an IOVA under IOMMU_PLATFORM
                    CallFd = v.CallFd,
                    KickFd = v.KickFd,
                    Size = (ushort)v.Size,
                };
            }
            return 0;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }
}
