using System.Runtime.InteropServices;
using HotPath.Native.Interop;

namespace HotPath.Native.Exports;

/// <summary><c>hp_last_error</c>: the calling thread's reason for its last failed call.</summary>
internal static unsafe class ErrorExports
{
    /// <summary>Never NULL; valid until this thread's next failing call. "no error" before the first failure.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_last_error")]
    public static byte* LastErrorText() => LastError.Text;
}
