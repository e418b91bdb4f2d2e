using HotPath.Frontend.Memory;
using HotPath.Frontend.VhostUser;
using HotPath.Protocol.Control;
using HotPath.Protocol.Wire;
using HotPath.Tests.Infrastructure;

namespace HotPath.Tests.Protocol;

/// <summary>Per-message hooks (rte_vhost_extern_callback_register): answer, veto, observe; a throwing hook is contained.</summary>
[Collection(SerialCollection.Name)]
public unsafe class MessageHookTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>Installs <see cref="Hook"/> on every new connection, as an application does in new_connection.</summary>
    private sealed class HookingOps(IVhostMessageHook hook, DeviceEventLog log) : IVhostDeviceOps
    {
        public int NewConnection(int vid)
        {
            DeviceRegistry.Get(vid)!.MessageHook = hook;
            return log.NewConnection(vid);
        }
        public int NewDevice(int vid) => log.NewDevice(vid);
        public void DestroyConnection(int vid) => log.DestroyConnection(vid);
    }

    private sealed class Hook : IVhostMessageHook
    {
        public int PostCount;
        public bool Throw;
        public bool VetoEnable;

        public MessageHookResult PreMessage(int vid, byte* message)
        {
            var h = (MessageHeader*)message;
            if (Throw && h->Request == (uint)FrontendRequest.NetSetMtu) throw new InvalidOperationException("hook bug");
            if (h->Request == (uint)FrontendRequest.GetConfig)
            {
                // A device of the application's own kind serves its config space: bytes 0xC0 + offset.
                var cfg = (ConfigPayload*)(message + MessageHeader.WireSize);
                for (uint i = 0; i < cfg->Size; i++) cfg->Region[i] = (byte)(0xC0 + cfg->Offset + i);
                return MessageHookResult.Reply;
            }
            if (VetoEnable && h->Request == (uint)FrontendRequest.SetVringEnable &&
                ((VringStatePayload*)(message + MessageHeader.WireSize))->Index == 1)
                return MessageHookResult.Error;
            return MessageHookResult.NotHandled;
        }

        public MessageHookResult PostMessage(int vid, byte* message)
        {
            Interlocked.Increment(ref PostCount);
            return MessageHookResult.NotHandled;
        }
    }

    [Fact]
    public void Hooks_answer_veto_and_observe_messages()
    {
        string path = DpdkBackend.NewSocketPath("hooks");
        var hook = new Hook();
        var log = new DeviceEventLog();
        var driver = VhostDriver.Register(path, VhostDriverFlags.None);
        try
        {
            driver.RegisterCallbacks(new HookingOps(hook, log));
            driver.Start();
            using FrontendMemory mem = FrontendMemory.Create(4 << 20);
            using var fe = VhostUserFrontend.Connect(path, Wait);
            fe.Start(mem, NetVrings.Allocate(mem, 1, 256, packed: false));
            int vid = int.Parse(log.WaitFor("new_device", Wait).Split(' ')[1]);
            int posted = hook.PostCount;
            Assert.True(posted >= 10, $"post hook saw {posted} messages");

            Assert.Equal(new byte[] { 0xC4, 0xC5, 0xC6 }, fe.GetConfig(4, 3));
            hook.VetoEnable = true;
            var veto = Assert.Throws<VhostUserException>(() => fe.SetVringEnable(1, false));
            Assert.Contains("SET_VRING_ENABLE", veto.Message);
            Assert.True(DeviceRegistry.Get(vid)!.Device.GetVring(1)!.Enabled);    // the veto kept the built-in handler out
            DeviceWaits.Running(vid);

            // A hook that throws is a refused message, not a broken backend.
            hook.Throw = true;
            long refused = ControlCounters.Refused(ControlError.HookFailed);
            Assert.Throws<VhostUserException>(() => fe.NetSetMtu(1500));
            Assert.Equal(refused + 1, ControlCounters.Refused(ControlError.HookFailed));
            Assert.Equal(0x0F, fe.GetStatus());
        }
        finally { driver.Unregister(); }
    }
}
