using System.Runtime.InteropServices;

namespace HotPath.Native.Interop;

/// <summary><c>struct hp_vhost_stat</c>: { uint64_t id; uint64_t value; }. Names are 64-byte strings.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeStat
{
    public ulong Id;
    public ulong Value;
}
