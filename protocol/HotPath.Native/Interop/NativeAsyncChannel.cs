using System.Runtime.InteropServices;
using HotPath.Engine.Async;

namespace HotPath.Native.Interop;

/// <summary>
/// <c>struct hp_vhost_async_channel_ops</c> (the seed's rte_vhost_async_channel_ops, same member order). Copied when
/// registered, so the caller's struct need not outlive the call.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeAsyncOps
{
    public delegate* unmanaged<int, ushort, AsyncDesc*, AsyncStatus*, ushort, uint> TransferData;
    public delegate* unmanaged<int, ushort, AsyncStatus*, ushort, uint> CheckCompletedCopies;
}

/// <summary>A C application's copy channel: the engine calls its two function pointers (no marshalling, no allocation).</summary>
internal sealed unsafe class NativeAsyncChannel(NativeAsyncOps ops) : IAsyncCopyChannel
{
    private readonly NativeAsyncOps _ops = ops;

    public uint TransferData(int vid, int queueId, AsyncDesc* descs, AsyncStatus* opaque, ushort count) =>
        _ops.TransferData(vid, (ushort)queueId, descs, opaque, count);

    public uint CheckCompletedCopies(int vid, int queueId, AsyncStatus* opaque, ushort maxPackets) =>
        _ops.CheckCompletedCopies(vid, (ushort)queueId, opaque, maxPackets);
}
