using System.Runtime.InteropServices;

namespace HotPath.Native.Interop;

/// <summary>The NUMA node of a page, by get_mempolicy(2) (DPDK's rte_vhost_get_numa_node does the same).</summary>
internal static unsafe partial class Numa
{
    private const long SysGetMempolicy = 239;   // x86_64
    private const ulong MpolFNode = 1, MpolFAddr = 2;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, int* mode, ulong* nodemask, ulong maxnode, void* addr, ulong flags);

    /// <summary>Node of the page holding <paramref name="address"/>, or -1 with <paramref name="errno"/>.</summary>
    public static int NodeOf(void* address, out int errno)
    {
        int node = -1;
        errno = 0;
        if (Syscall(SysGetMempolicy, &node, null, 0, address, MpolFNode | MpolFAddr) == 0) return node;
        errno = Marshal.GetLastPInvokeError();
        return -1;
    }
}
