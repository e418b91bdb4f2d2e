using HotPath.Engine.Virtio;
using HotPath.Engine;
using HotPath.Engine.Interop;
using HotPath.Engine.Iommu;
using HotPath.Engine.Memory;
using HotPath.Engine.Vrings;
using HotPath.Frontend.Memory;
using HotPath.Frontend.Rings;

namespace HotPath.Frontend.Direct;

/// <summary>
/// Wires a <see cref="FrontendMemory"/> and ring drivers into an engine <see cref="VhostDevice"/> in this process,
/// making exactly the engine calls the control plane makes for SET_MEM_TABLE (map each region from a dup of its
/// fd, <see cref="VhostDevice.ReplaceMemory"/>), SET_FEATURES (<see cref="VhostDevice.SetFeatures"/>) and
/// SET_VRING_NUM/BASE/ADDR/KICK/CALL/ENABLE (each vring configured under its access lock). No socket, no message
/// parsing: for engine tests, benchmarks and fuzzing. The device keeps the mapped regions; fds handed to vrings are
/// dups owned by this object and closed when it is disposed (as the control plane closes the fds it received).
/// </summary>
public sealed class DirectAttach : IDisposable
{
    private readonly List<int> _ownedFds = new();

    public VhostDevice Device { get; }
    public FrontendMemory Memory { get; }

    private DirectAttach(VhostDevice device, FrontendMemory memory)
    {
        Device = device;
        Memory = memory;
    }

    /// <summary>
    /// SET_FEATURES then SET_MEM_TABLE with every region of <paramref name="memory"/>. With ACCESS_PLATFORM
    /// (IOMMU_PLATFORM) in <paramref name="features"/>, the IOTLB is then given an identity mapping of every region
    /// (IOVA = guest physical address, read-write; see <see cref="MapIotlbIdentity"/>), as a guest whose IOMMU maps all
    /// of its memory for the device, and rings are attached by IOVA.
    /// </summary>
    public static DirectAttach Create(VhostDevice device, FrontendMemory memory, ulong features)
    {
        var a = new DirectAttach(device, memory);
        device.SetFeatures(features);
        a.SetMemTable();
        if (device.IotlbActive) a.MapIotlbIdentity();
        return a;
    }

    /// <summary>IOTLB_MSG UPDATE for every region: IOVA = guest physical address, read-write.</summary>
    public void MapIotlbIdentity()
    {
        foreach (FrontendMemory.Region r in Memory.Regions)
            Device.IotlbUpdate(new IotlbEntry(r.GuestPhysAddr, r.Size, r.UserAddr, IotlbPerm.ReadWrite));
    }

    /// <summary>SET_MEM_TABLE: maps every region from a dup of its fd and installs the table.</summary>
    public void SetMemTable()
    {
        var mapped = new List<MappedRegion>();
        try
        {
            foreach (FrontendMemory.Region r in Memory.Regions)
            {
                int fd = LibC.dup(r.Fd);
                if (fd < 0) throw new IOException($"dup failed: {LibC.StrError(LibC.Errno)}");
                var d = new RegionDescriptor(r.GuestPhysAddr, r.Size, r.UserAddr, r.MmapOffset);
                MemoryError e = MappedRegion.TryMap(fd, d, out MappedRegion? m);
                if (e != MemoryError.None)
                {
                    LibC.close(fd);
                    throw new InvalidOperationException($"mapping region 0x{r.GuestPhysAddr:x}: {e.Describe()}");
                }
                mapped.Add(m!);
            }
            MemoryError te = Device.ReplaceMemory(mapped);
            if (te != MemoryError.None) throw new InvalidOperationException($"memory table refused: {te.Describe()}");
        }
        catch
        {
            foreach (MappedRegion m in mapped) m.Dispose();
            throw;
        }
    }

    /// <summary>
    /// SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_KICK, SET_VRING_CALL and SET_VRING_ENABLE for vring
    /// <paramref name="index"/>. <paramref name="kickFd"/>/<paramref name="callFd"/> are dup'ed (the caller keeps
    /// its own); pass <see cref="Vring.FdNone"/> for a polling ring (the NOFD flag).
    /// </summary>
    public Vring AttachRing(int index, IRingLayout ring, int kickFd = Vring.FdNone, int callFd = Vring.FdNone)
    {
        Vring vq = Device.GetOrCreateVring((uint)index) ?? throw new ArgumentOutOfRangeException(nameof(index));
        Check(Vring.ValidateSize(ring.Size, ring.Packed));
        // Under the IOTLB, SET_VRING_ADDR carries IOVAs (here the guest physical addresses); otherwise user addresses.
        bool iova = Device.IotlbActive;
        ulong desc = iova ? ring.DescGpa : Memory.UserAddr(ring.DescGpa);
        ulong avail = iova ? ring.DriverAreaGpa : Memory.UserAddr(ring.DriverAreaGpa);
        ulong used = iova ? ring.DeviceAreaGpa : Memory.UserAddr(ring.DeviceAreaGpa);
        Check(Vring.ValidateAddresses(desc, avail, used, 0, ring.Packed));
        int kick = Dup(kickFd), call = Dup(callFd);
        using (VringLockScope held = vq.Hold())
        {
            vq.SetNum(ring.Size, held);                              // SET_VRING_NUM
            Check(vq.SetBase(ring.BaseIndex, ring.Packed, held));    // SET_VRING_BASE
            // SET_VRING_ADDR. As QEMU: log_guest_addr is the used ring's GPA, and the LOG flag is set while LOG_ALL is
            // negotiated.
            uint flags = VirtioFeatures.Has(Device.Features, VirtioFeatures.LogAll) ? Vring.AddrFlagLog : 0;
            vq.SetAddresses(desc, avail, used, ring.DeviceAreaGpa, flags, held);
            Check(Device.TranslateLocked(vq, held));
            vq.SetKickFd(kick, held);                                // SET_VRING_KICK
            vq.SetCallFd(call, held);                                // SET_VRING_CALL
            vq.SetEnabled(true, held);                               // SET_VRING_ENABLE
        }
        return vq;
    }

    /// <summary>Attaches a ring driver's ring (split or packed) with its kick and (unless polling) call eventfds.</summary>
    public Vring AttachDriver(int index, IRingDriver driver, bool interrupts = true) =>
        AttachRing(index, driver.Areas, driver.KickFd, interrupts ? driver.CallFd : Vring.FdNone);

    /// <summary>Attaches a split driver's ring (see <see cref="AttachDriver"/>).</summary>
    public Vring AttachSplit(int index, SplitRingDriver driver, bool interrupts = true) => AttachDriver(index, driver, interrupts);

    /// <summary>SET_LOG_BASE: maps a dup of <paramref name="log"/>'s fd as the device's dirty log. The device logs
    /// while LOG_ALL is negotiated (pass it in the features given to <see cref="Create"/>).</summary>
    public void SetLogBase(FrontendDirtyLog log)
    {
        int fd = LibC.dup(log.Fd);
        if (fd < 0) throw new IOException($"dup failed: {LibC.StrError(LibC.Errno)}");
        MemoryError e = HotPath.Engine.Logging.DirtyLog.TryMap(fd, log.Size, 0, out HotPath.Engine.Logging.DirtyLog? mapped);
        if (e != MemoryError.None)
        {
            LibC.close(fd);
            throw new InvalidOperationException($"dirty log refused: {e.Describe()}");
        }
        Device.SetLog(mapped);
    }

    /// <summary>GET_VRING_BASE: stops the ring (disabled, pointers dropped) and returns its base.</summary>
    public uint StopRing(int index)
    {
        Vring vq = Device.GetVring(index) ?? throw new ArgumentOutOfRangeException(nameof(index));
        using (VringLockScope held = vq.Hold())
        {
            vq.SetEnabled(false, held);
            vq.Invalidate(held);
            return vq.BaseForReport();
        }
    }

    private int Dup(int fd)
    {
        if (fd < 0) return fd;
        int d = LibC.dup(fd);
        if (d < 0) throw new IOException($"dup failed: {LibC.StrError(LibC.Errno)}");
        _ownedFds.Add(d);
        return d;
    }

    private static void Check(VringError e)
    {
        if (e != VringError.None) throw new InvalidOperationException($"vring setup refused: {e.Describe()}");
    }

    /// <summary>Closes the fds handed to the vrings (after clearing them from the rings).</summary>
    public void Dispose()
    {
        using (DeviceLockScope all = Device.HoldAll())
        {
            foreach (Vring v in Device.Vrings)
            {
                if (_ownedFds.Contains(v.KickFd)) v.SetKickFd(Vring.FdUninitialized, all.For(v));
                if (_ownedFds.Contains(v.CallFd)) v.SetCallFd(Vring.FdUninitialized, all.For(v));
            }
        }
        foreach (int fd in _ownedFds) LibC.close(fd);
        _ownedFds.Clear();
    }
}
