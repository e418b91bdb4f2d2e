using System.Runtime.InteropServices;

namespace HotPath.Native.Interop;

/// <summary><c>struct hp_vhost_log_stats</c>: { uint64_t pages_marked; uint64_t cache_flushes; }.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeLogStats
{
    public ulong PagesMarked;
    public ulong CacheFlushes;
}
