using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Unicode;
using HotPath.Engine.Interop;
using HotPath.Protocol.Control;

namespace HotPath.Native.Interop;

/// <summary>
/// The thread-local reason behind <c>hp_last_error()</c>: "function: what went wrong (ERRNO)". It is set by every
/// failing export and left alone by succeeding ones (as errno). The text lives in a pinned per-thread buffer, so the
/// pointer handed to C stays valid until the same thread's next failure overwrites it. Messages about a bad vid or a
/// bad handle are formatted without allocating, since a polling loop may hit them at full rate.
/// </summary>
internal static unsafe class LastError
{
    private const int Capacity = 512;

    [ThreadStatic] private static byte[]? t_text;

    /// <summary>NUL-terminated text of this thread's last failure ("no error" before any).</summary>
    public static byte* Text => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Buffer));

    private static byte[] Buffer => t_text ??= NewBuffer();

    private static byte[] NewBuffer()
    {
        byte[] b = GC.AllocateArray<byte>(Capacity, pinned: true);
        "no error"u8.CopyTo(b);
        return b;
    }

    /// <summary>Records "<paramref name="function"/>: <paramref name="message"/> (ERRNO)" and returns -1.</summary>
    public static int Set(string function, string message, int errno = LibC.EINVAL)
    {
        // Cold path: a string is fine here. A text longer than the buffer is cut on a character boundary.
        string text = $"{function}: {message} ({ErrnoName(errno)})";
        Utf8.FromUtf16(text, Destination, out _, out int written, replaceInvalidSequences: true);
        Terminate(written);
        return -1;
    }

    /// <summary>Records a refused call from the control plane's own reason and errno; returns -1.</summary>
    public static int Set(string function, Exception e)
    {
        if (e is AggregateException { InnerException: { } inner }) e = inner;   // EventLoop.Invoke wraps
        return e switch
        {
            VhostException v => Set(function, v.Message, Math.Abs(v.Errno)),
            ArgumentException a => Set(function, a.Message, LibC.EINVAL),
            OutOfMemoryException => Set(function, "out of memory", LibC.ENOMEM),
            _ => Set(function, $"{e.GetType().Name}: {e.Message}", LibC.EIO),
        };
    }

    /// <summary>"function: vid N is not a connected device (ENODEV)", formatted without allocating.</summary>
    public static void UnknownVid(string function, int vid) =>
        Terminate(Utf8.TryWrite(Destination, $"{function}: vid {vid} is not a connected device (ENODEV)", out int n) ? n : 0);

    /// <summary>"function: ARG is NULL (EINVAL)", formatted without allocating.</summary>
    public static void Null(string function, string argument) =>
        Terminate(Utf8.TryWrite(Destination, $"{function}: {argument} is NULL (EINVAL)", out int n) ? n : 0);

    /// <summary>"function: vring Q does not exist on vid N (EINVAL)", formatted without allocating.</summary>
    public static void BadQueue(string function, int vid, int queueId) =>
        Terminate(Utf8.TryWrite(Destination, $"{function}: vring {queueId} does not exist on vid {vid} (EINVAL)", out int n) ? n : 0);

    /// <summary>"function: the pool is empty for this thread (ENOMEM)", formatted without allocating.</summary>
    public static void Empty(string function) =>
        Terminate(Utf8.TryWrite(Destination, $"{function}: the pool has no free mbuf for this thread (ENOMEM)", out int n) ? n : 0);

    /// <summary>The buffer minus room for the terminating NUL.</summary>
    private static Span<byte> Destination => Buffer.AsSpan(0, Capacity - 1);

    private static void Terminate(int length) => Buffer[length] = 0;

    public static string ErrnoName(int errno) => errno switch
    {
        LibC.EPERM => "EPERM",
        LibC.ENOENT => "ENOENT",
        LibC.EIO => "EIO",
        LibC.EBADF => "EBADF",
        LibC.EAGAIN => "EAGAIN",
        LibC.ENOMEM => "ENOMEM",
        LibC.EFAULT => "EFAULT",
        LibC.EBUSY => "EBUSY",
        LibC.EEXIST => "EEXIST",
        LibC.ENODEV => "ENODEV",
        LibC.EINVAL => "EINVAL",
        LibC.ENOSPC => "ENOSPC",
        LibC.ERANGE => "ERANGE",
        LibC.ENOSYS => "ENOSYS",
        LibC.ENOTSUP => "ENOTSUP",
        LibC.EADDRINUSE => "EADDRINUSE",
        LibC.ECONNREFUSED => "ECONNREFUSED",
        LibC.EALREADY => "EALREADY",
        LibC.EPROTO => "EPROTO",
        LibC.EPIPE => "EPIPE",
        LibC.ENOTCONN => "ENOTCONN",
        LibC.ECONNRESET => "ECONNRESET",
        LibC.ETIMEDOUT => "ETIMEDOUT",
        _ => $"errno {errno}",
    };
}
