using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using HotPath.Native.Interop;

namespace HotPath.Native.Exports;

/// <summary><c>hp_last_error</c>: the calling thread's reason for its last failed call.</summary>
internal static unsafe class ErrorExports
{
    /// <summary>Never NULL; valid until this thread's next failing call. "no error" before the first failure.</summary>
    [UnmanagedCallersOnly(EntryPoint = "hp_last_error")]
    public static byte* LastErrorText()
    {
        try
        {
            return LastError.Text;
        }
        catch (Exception)
        {
            // Only the first call on a thread allocates (its 512-byte buffer); if even that fails, a constant says so.
            // SAFETY: a u8 literal lives in the image's read-only data and never moves.
            return (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference("hp_last_error: no memory for the error text (ENOMEM)\0"u8));
        }
    }
}
