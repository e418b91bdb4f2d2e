using HotPath.Engine;
using HotPath.Engine.Interop;
using HotPath.Engine.Virtio;
using HotPath.Engine.Vrings;
using HotPath.Protocol.Transport;
using HotPath.Protocol.Wire;

namespace HotPath.Protocol.Control.Handlers;

/// <summary>SET_VRING_NUM/ADDR/BASE/KICK/CALL/ERR/ENABLE and GET_VRING_BASE.</summary>
internal static class VringHandlers
{
    /// <summary>
    /// The vring named by a u32 index, bounded by the queue pairs the driver offers (SECURITY.md case 3: the index
    /// stays u32 until checked; 0x10000 never wraps to 0).
    /// </summary>
    private static bool TryGetVring(VhostSession s, uint index, string name, out Vring v, out HandlerResult fail)
    {
        uint max = 2 * s.Driver.MaxQueuePairs;
        Vring? found = index < max ? s.Device.GetOrCreateVring(index) : null;
        if (found == null)
        {
            v = null!;
            fail = HandlerResult.Fail(ControlError.VringIndexOutOfRange, $"{name}: vring {index} (this device has {max})");
            return false;
        }
        v = found;
        fail = default;
        return true;
    }

    public static HandlerResult SetVringNum(VhostSession s, MessageReader m)
    {
        VringStatePayload st = m.PayloadAs<VringStatePayload>();
        if (!TryGetVring(s, st.Index, "SET_VRING_NUM", out Vring v, out HandlerResult fail)) return fail;
        VringError e = Vring.ValidateSize(st.Num, s.Device.IsPacked);
        if (e != VringError.None) return HandlerResult.Fail(ControlError.BadVringNum, $"vring {st.Index} num {st.Num}: {e.Describe()}");
        using (VringLockScope held = v.Hold())
        {
            uint old = v.Size;
            v.SetNum(st.Num, held);
            e = s.Device.TranslateLocked(v, held);
            if (e != VringError.None)
            {
                // The rings at the addresses already given do not fit this size: keep the old size.
                v.SetNum(old, held);
                s.Device.TranslateLocked(v, held);
            }
        }
        return e == VringError.None
            ? HandlerResult.Ok
            : HandlerResult.Fail(ControlError.BadVringNum, $"vring {st.Index} num {st.Num}: {e.Describe()}");
    }

    public static HandlerResult SetVringAddr(VhostSession s, MessageReader m)
    {
        VringAddrPayload a = m.PayloadAs<VringAddrPayload>();
        if (!TryGetVring(s, a.Index, "SET_VRING_ADDR", out Vring v, out HandlerResult fail)) return fail;
        VringError e = Vring.ValidateAddresses(a.DescUserAddr, a.AvailUserAddr, a.UsedUserAddr, a.Flags, s.Device.IsPacked);
        if (e == VringError.None && s.Device.Memory == null) e = VringError.NoMemoryTable;
        if (e != VringError.None) return HandlerResult.Fail(ControlError.BadVringAddr, $"vring {a.Index}: {e.Describe()}");
        using (VringLockScope held = v.Hold())
        {
            v.SetAddresses(a.DescUserAddr, a.AvailUserAddr, a.UsedUserAddr, a.LogGuestAddr, a.Flags, held);
            e = s.Device.TranslateLocked(v, held);
            if (e != VringError.None)
            {
                v.UnsetAddresses(held);
            }
            else if (v.BrokenReason is not VringError.None and not VringError.AvailIndexJump and not VringError.PositionOutsideRing)
            {
                v.SetBrokenReason(VringError.None, held);   // new addresses repair a ring the last table change broke
            }
        }
        return e == VringError.None
            ? HandlerResult.Ok
            : HandlerResult.Fail(ControlError.BadVringAddr, $"vring {a.Index}: {e.Describe()}");
    }

    public static HandlerResult SetVringBase(VhostSession s, MessageReader m)
    {
        VringStatePayload st = m.PayloadAs<VringStatePayload>();
        if (!TryGetVring(s, st.Index, "SET_VRING_BASE", out Vring v, out HandlerResult fail)) return fail;
        VringError e;
        using (VringLockScope held = v.Hold())
        {
            e = v.SetBase(st.Num, s.Device.IsPacked, held);
            if (e == VringError.None && v.BrokenReason == VringError.AvailIndexJump) v.SetBrokenReason(VringError.None, held);
        }
        return e == VringError.None
            ? HandlerResult.Ok
            : HandlerResult.Fail(ControlError.BadVringBase, $"vring {st.Index} base 0x{st.Num:x}: {e.Describe()}");
    }

    /// <summary>GET_VRING_BASE stops the ring: destroy_device first, then report the base and drop the eventfds.</summary>
    public static HandlerResult GetVringBase(VhostSession s, MessageReader m)
    {
        VringStatePayload st = m.PayloadAs<VringStatePayload>();
        if (!TryGetVring(s, st.Index, "GET_VRING_BASE", out Vring v, out HandlerResult fail)) return fail;
        s.StopDevice();
        uint num;
        using (VringLockScope held = v.Hold())
        {
            num = v.BaseForReport();
            VhostSession.CloseVringFds(v, held);
            v.Invalidate(held);
        }
        s.Device.IotlbStopped();
        return s.ReplyStruct(new VringStatePayload { Index = st.Index, Num = num });
    }

    public static HandlerResult SetVringKick(VhostSession s, MessageReader m) => SetVringFd(s, m, "SET_VRING_KICK", VringFd.Kick);
    public static HandlerResult SetVringCall(VhostSession s, MessageReader m) => SetVringFd(s, m, "SET_VRING_CALL", VringFd.Call);
    public static HandlerResult SetVringErr(VhostSession s, MessageReader m) => SetVringFd(s, m, "SET_VRING_ERR", VringFd.Err);

    private enum VringFd { Kick, Call, Err }

    private static HandlerResult SetVringFd(VhostSession s, MessageReader m, string name, VringFd which)
    {
        ulong value = m.PayloadAs<ulong>();
        if ((value & VringFdPayload.ReservedMask) != 0)
            return HandlerResult.Fail(ControlError.ReservedBitsSet, $"{name}: 0x{value:x} has bits above the index and NOFD flag");
        uint index = (uint)(value & VringFdPayload.IndexMask);
        if (!TryGetVring(s, index, name, out Vring v, out HandlerResult fail)) return fail;
        int fd = (value & VringFdPayload.NoFdFlag) != 0 ? Vring.FdNone : m.TakeFd(0);
        // Only an eventfd: the datapath writes call and err fds and must never block on one (issue 11). The call
        // fd is made non-blocking; the kick fd keeps the frontend's flags (HotPath only drains it, with poll first).
        string? notEventFd = fd >= 0 ? PeerFds.CheckEventFd(fd, nonBlocking: which != VringFd.Kick) : null;
        if (notEventFd != null)
        {
            LibC.close(fd);
            return HandlerResult.Fail(ControlError.NotAnEventFd, $"{name} vring {index}: fd {notEventFd}");
        }
        InflightStart inflight = default;
        using (VringLockScope held = v.Hold())
        {
            switch (which)
            {
                case VringFd.Kick:
                    VhostSession.CloseFd(v.SetKickFd(fd, held));
                    // Without VHOST_USER_F_PROTOCOL_FEATURES rings start enabled (vhost-user spec, DPDK). A crypto
                    // device's ring too: QEMU's cryptodev-vhost-user starts its data queue with
                    // vhost_dev_start(..., vrings=false) and never sends SET_VRING_ENABLE (QEMU 7.2 and later).
                    if (!VirtioFeatures.Has(s.Device.Features, VirtioFeatures.ProtocolFeatures) || s.Device.Crypto != null)
                        v.SetEnabled(true, held);
                    // The ring starts: inflight tracking begins (or resumes from what a previous backend left).
                    if (s.Device.Inflight != null) inflight = s.Device.StartInflightLocked(v, held);
                    break;
                case VringFd.Call:
                    VhostSession.CloseFd(v.SetCallFd(fd, held));
                    break;
                default:
                    VhostSession.CloseFd(v.SetErrFd(fd, held));
                    break;
            }
        }
        if (inflight.Recovered) ReportInflight(s, v, inflight);
        return HandlerResult.Ok;
    }

    private static void ReportInflight(VhostSession s, Vring v, InflightStart r)
    {
        s.Log(r.MatchesRing ? LogLevel.Info : LogLevel.Warning,
            $"vring {v.Index}: inflight region from a previous backend, {r.Resubmit} entries to resubmit" +
            (s.Device.BuiltinNet
                ? $"; resuming at used index {v.LastUsedIdx}" + (v.IsPacked ? $" (wrap {(v.UsedWrapCounter ? 1 : 0)})" : "") +
                  (r.MatchesRing ? "" : " (the region's entries are not the ring from there: it was not tracked by an in-order device)")
                : $"; next avail index {v.LastAvailIdx}"));
    }

    public static HandlerResult SetVringEnable(VhostSession s, MessageReader m)
    {
        VringStatePayload st = m.PayloadAs<VringStatePayload>();
        if (!TryGetVring(s, st.Index, "SET_VRING_ENABLE", out Vring v, out HandlerResult fail)) return fail;
        if (st.Num > 1) return HandlerResult.Fail(ControlError.BadEnableValue, $"vring {st.Index} enable {st.Num}");
        using (VringLockScope held = v.Hold()) v.SetEnabled(st.Num == 1, held);
        return HandlerResult.Ok;
    }
}
