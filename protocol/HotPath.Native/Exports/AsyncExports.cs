using System.Runtime.InteropServices;
using HotPath.Engine;
using HotPath.Engine.Async;
using HotPath.Engine.Buffers;
using HotPath.Engine.Interop;
using HotPath.Native.Interop;

namespace HotPath.Native.Exports;

/// <summary>
/// The async copy datapath (the seed's rte_vhost_async_* and rte_vhost_submit/poll_enqueue_*; engine/Async/README.md)
/// and the built-in copy engine (<c>hp_copy_engine_*</c>). Registration and unregistration return 0 or -1 with
/// hp_last_error(); submit and poll return packets moved (0 on failure), inflight -1 on failure, as their namesakes.
/// </summary>
internal static unsafe class AsyncExports
{
    private static readonly Dictionary<nint, CopyEngine> s_engines = new();
    private static long s_nextEngine;

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_async_channel_register")]
    public static int ChannelRegister(int vid, ushort queueId, uint features, NativeAsyncOps* ops)
    {
        const string fn = "hp_vhost_async_channel_register";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            if (dev == null || !Args.NotNull(fn, "ops", ops)) return -1;
            if (ops->TransferData == null || ops->CheckCompletedCopies == null)
                return LastError.Set(fn, "ops->transfer_data and ops->check_completed_copies must both be set");
            return Result(fn, vid, queueId, dev.AsyncChannelRegister(queueId, features, new NativeAsyncChannel(*ops)));
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    /// <summary>Registers a channel of the built-in engine <paramref name="engine"/> (HotPath's addition): in order.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_async_channel_register_engine")]
    public static int ChannelRegisterEngine(int vid, ushort queueId, uint features, void* engine)
    {
        const string fn = "hp_vhost_async_channel_register_engine";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            if (dev == null) return -1;
            CopyEngine? e = Engine(fn, engine);
            if (e == null) return -1;
            CopyEngineChannel ch = e.CreateChannel();
            int r = Result(fn, vid, queueId, dev.AsyncChannelRegister(queueId, features, ch, ownsChannel: true));
            if (r != 0) ch.Dispose();
            return r;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_async_channel_unregister")]
    public static int ChannelUnregister(int vid, ushort queueId)
    {
        const string fn = "hp_vhost_async_channel_unregister";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            if (dev == null) return -1;
            return Result(fn, vid, queueId, dev.AsyncChannelUnregister(queueId, out _));
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_submit_enqueue_burst")]
    public static ushort SubmitEnqueueBurst(int vid, ushort queueId, Mbuf** pkts, ushort count)
    {
        const string fn = "hp_vhost_submit_enqueue_burst";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            if (dev == null) return 0;
            if (pkts == null)
            {
                LastError.Null(fn, "pkts");
                return 0;
            }
            return dev.SubmitEnqueueBurst(queueId, pkts, count);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_poll_enqueue_completed")]
    public static ushort PollEnqueueCompleted(int vid, ushort queueId, Mbuf** pkts, ushort count)
    {
        const string fn = "hp_vhost_poll_enqueue_completed";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            if (dev == null) return 0;
            if (pkts == null)
            {
                LastError.Null(fn, "pkts");
                return 0;
            }
            return dev.PollEnqueueCompleted(queueId, pkts, count);
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return 0;
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "hp_vhost_async_get_inflight")]
    public static int GetInflight(int vid, ushort queueId)
    {
        const string fn = "hp_vhost_async_get_inflight";
        try
        {
            VhostDevice? dev = Args.Device(fn, vid);
            if (dev == null) return -1;
            int n = dev.AsyncInflight(queueId);
            if (n < 0) LastError.Set(fn, $"vring {queueId} of vid {vid} has no async channel, or is busy", LibC.EAGAIN);
            return n;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    /// <summary>A built-in copy engine: one copy thread (pinned to <paramref name="cpu"/> unless it is -1). NULL on failure.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_copy_engine_create")]
    public static void* EngineCreate(byte* name, int cpu)
    {
        const string fn = "hp_copy_engine_create";
        try
        {
            if (!Args.String(fn, "name", name, out string s)) return null;
            var e = new CopyEngine(s, cpu);
            if (cpu >= 0 && e.Cpu != cpu)
            {
                int errno = e.PinError;
                e.Dispose();
                LastError.Set(fn, $"cannot pin the copy thread to cpu {cpu}: {LibC.StrError(errno)}", errno == 0 ? LibC.EINVAL : errno);
                return null;
            }
            lock (s_engines)
            {
                nint h = (nint)(++s_nextEngine << 4);   // an opaque, never-dereferenced "struct hp_copy_engine *"
                s_engines[h] = e;
                return (void*)h;
            }
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
            return null;
        }
    }

    /// <summary>Stops and frees an engine (after the queues using it were unregistered or their devices destroyed).</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_copy_engine_free")]
    public static void EngineFree(void* engine)
    {
        const string fn = "hp_copy_engine_free";
        try
        {
            if (engine == null) return;
            CopyEngine? e;
            lock (s_engines)
            {
                if (!s_engines.Remove((nint)engine, out e))
                {
                    LastError.Set(fn, "not an engine from hp_copy_engine_create (or already freed)");
                    return;
                }
            }
            e.Dispose();
        }
        catch (Exception e)
        {
            LastError.Set(fn, e);
        }
    }

    /// <summary>Packets the engine copied (statistics); -1 for an unknown engine.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_copy_engine_packets")]
    public static long EnginePackets(void* engine)
    {
        const string fn = "hp_copy_engine_packets";
        try
        {
            CopyEngine? e = Engine(fn, engine);
            return e == null ? -1 : e.Packets;
        }
        catch (Exception e)
        {
            return LastError.Set(fn, e);
        }
    }

    private static CopyEngine? Engine(string fn, void* handle)
    {
        lock (s_engines)
        {
            if (s_engines.TryGetValue((nint)handle, out CopyEngine? e)) return e;
        }
        LastError.Set(fn, "not an engine from hp_copy_engine_create (or already freed)");
        return null;
    }

    private static int Result(string fn, int vid, ushort queueId, AsyncError e) =>
        e == AsyncError.None ? 0 : LastError.Set(fn, $"vring {queueId} of vid {vid}: {e.Describe()}",
            e == AsyncError.AlreadyRegistered ? LibC.EEXIST : e == AsyncError.NotRegistered ? LibC.ENOENT : LibC.EINVAL);
}
