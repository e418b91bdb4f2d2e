using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace HotPath.Native.Interop;

/// <summary>
/// Leaves the host process's signal dispositions as they were: the runtime ignores SIGPIPE when it starts, and
/// native/host_signals.c (linked into the library, its constructor ran at load time) puts back what the host had.
/// </summary>
internal static partial class HostProcess
{
    [LibraryImport("hphost", EntryPoint = "hp_internal_restore_host_signals")]
    private static partial int RestoreHostSignals();

    /// <summary>Runs once, when the runtime starts on the first call into the library, before that call's code.</summary>
    // CA2255 warns that module initializers are for applications: this library is one (a NativeAOT image whose
    // runtime starts on its first call), and the host's dispositions must be back before any of its code runs.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize()
    {
        // Only the published library links native/host_signals.c; a JIT process that loads this assembly (the tests
        // read it by reflection) has no such symbol, and nothing to restore.
        try { RestoreHostSignals(); }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }
}
