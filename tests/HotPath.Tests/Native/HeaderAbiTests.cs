using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using HotPath.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HotPath.Tests.Native;

/// <summary>
/// hotpath.h against the C# side it describes (issues 12 and 13): every [UnmanagedCallersOnly] export's prototype,
/// parameter by parameter (integer width and signedness, pointer or not), and every struct the C API shares (size,
/// and the offset of each field, C name against C# field in declaration order). A C++ file of static_asserts is
/// generated from the C# metadata and compiled against the header with g++; a compile error names each mismatch.
/// </summary>
public sealed class HeaderAbiTests(ITestOutputHelper output)
{
    /// <summary>The structs: C name, C# type, and the C field names in the C# fields' order ("-" for a C# field with
    /// no C counterpart, such as padding).</summary>
    private static readonly (string C, string CSharp, string Fields)[] Structs =
    {
        ("hp_mbuf", "HotPath.Engine.Buffers.Mbuf", "buf_addr buf_iova data_off refcnt nb_segs port ol_flags packet_type pkt_len data_len vlan_tci buf_len vlan_tci_outer hash pool next tx_offload shinfo priv_size timesync reserved dynfield1"),
        ("hp_mbuf_ext_shared_info", "HotPath.Engine.Buffers.ExtBufSharedInfo", "free_cb fcb_opaque refcnt"),
        ("hp_vhost_vring", "HotPath.Native.Interop.NativeVring", "desc avail used log_guest_addr callfd kickfd size"),
        ("hp_vhost_mem_region", "HotPath.Native.Interop.NativeMemRegion", "guest_phys_addr guest_user_addr host_user_addr size mmap_addr mmap_size fd"),
        ("hp_vhost_memory", "HotPath.Native.Interop.NativeMemTable", "nregions -"),
        ("hp_vhost_device_ops", "HotPath.Native.Interop.NativeDeviceOps", "new_device destroy_device vring_state_changed features_changed new_connection destroy_connection guest_notified guest_notify takeover_complete reserved"),
        ("hp_vhost_user_extern_ops", "HotPath.Native.Interop.NativeExternOps", "pre_msg_handle post_msg_handle"),
        ("hp_vhost_ring_inflight", "HotPath.Native.Interop.NativeRingInflight", "inflight_split resubmit_inflight"),
        ("hp_vhost_stat", "HotPath.Native.Interop.NativeStat", "id value"),
        ("hp_vhost_log_stats", "HotPath.Native.Interop.NativeLogStats", "pages_marked cache_flushes"),
        ("hp_vhost_takeover_info", "HotPath.Native.Exports.NativeTakeoverInfo", "state devices pause_ns peer_pid reserved"),
        ("hp_vhost_inflight_info_split", "HotPath.Engine.Inflight.InflightSplitHeader", "features version desc_num last_inflight_io used_idx"),
        ("hp_vhost_inflight_desc_split", "HotPath.Engine.Inflight.InflightSplitDesc", "inflight next counter"),
        ("hp_vhost_inflight_info_packed", "HotPath.Engine.Inflight.InflightPackedHeader", "features version desc_num free_head old_free_head used_idx old_used_idx used_wrap_counter old_used_wrap_counter"),
        ("hp_vhost_inflight_desc_packed", "HotPath.Engine.Inflight.InflightPackedDesc", "inflight next last num counter id flags len addr"),
        ("hp_vhost_resubmit_desc", "HotPath.Engine.Inflight.ResubmitDesc", "index counter"),
        ("hp_vhost_resubmit_info", "HotPath.Engine.Inflight.ResubmitInfo", "resubmit_list resubmit_num"),
    };

    /// <summary>Structs whose C size is larger than the C# type (a flexible array or a header the C# side reads alone).</summary>
    private static readonly Dictionary<string, int> CSizeOverride = new() { ["hp_vhost_memory"] = 8 };

    private static Assembly NativeAssembly => Assembly.Load("HotPath.Native");

    private static Type Resolve(string name) =>
        NativeAssembly.GetType(name) ?? typeof(HotPath.Engine.Buffers.Mbuf).Assembly.GetType(name)
        ?? throw new InvalidOperationException($"no type {name}");

    /// <summary>The ABI class of a C# type: 'v', 'p' (pointer, function pointer), 'i'/'u' (signed/unsigned integer,
    /// nint and nuint included), 'f'.</summary>
    private static (char Kind, int Size) Abi(Type t)
    {
        if (t == typeof(void)) return ('v', 0);
        if (t.IsPointer || t.IsFunctionPointer) return ('p', 8);
        if (t == typeof(nint)) return ('i', 8);    // intptr_t / ssize_t; a C pointer must be a C# pointer
        if (t == typeof(nuint)) return ('u', 8);   // size_t
        if (t.IsEnum) t = Enum.GetUnderlyingType(t);
        if (t == typeof(bool)) return ('u', 1);
        if (t == typeof(float)) return ('f', 4);
        if (t == typeof(double)) return ('f', 8);
        int size = Marshal.SizeOf(t);
        bool signed = t == typeof(sbyte) || t == typeof(short) || t == typeof(int) || t == typeof(long);
        return (signed ? 'i' : 'u', size);
    }

    private static string Expected(MethodInfo m)
    {
        var parts = new List<(char, int)> { Abi(m.ReturnType) };
        parts.AddRange(m.GetParameters().Select(p => Abi(p.ParameterType)));
        return string.Join(", ", parts.Select(p => $"A{{'{p.Item1}', {p.Item2}}}"));
    }

    private static int SizeOf(Type t) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(t).Invoke(null, null)!;

    private static int OffsetOf(FieldInfo f) =>
        f.GetCustomAttribute<FieldOffsetAttribute>()?.Value ?? (int)Marshal.OffsetOf(f.DeclaringType!, f.Name);

    private const string Prelude = """
        #include <hotpath.h>
        #include <array>
        #include <cstddef>
        #include <type_traits>
        struct A { char kind; int size; constexpr bool operator==(const A &) const = default; };
        template <class T> constexpr A abi()
        {
            if constexpr (std::is_void_v<T>) return { 'v', 0 };
            else if constexpr (std::is_pointer_v<T>) return { 'p', (int)sizeof(T) };
            else if constexpr (std::is_enum_v<T>) return { std::is_signed_v<std::underlying_type_t<T>> ? 'i' : 'u', (int)sizeof(T) };
            else if constexpr (std::is_floating_point_v<T>) return { 'f', (int)sizeof(T) };
            else if constexpr (std::is_integral_v<T>) return { std::is_signed_v<T> ? 'i' : 'u', (int)sizeof(T) };
            else return { '?', (int)sizeof(T) };
        }
        template <class R, class... P> constexpr auto sig(R (*)(P...)) { return std::array<A, 1 + sizeof...(P)>{ abi<R>(), abi<P>()... }; }
        template <class... E> constexpr auto want(E... e) { return std::array<A, sizeof...(E)>{ e... }; }

        """;

    [Fact]
    public void Hotpath_h_prototypes_and_struct_layouts_match_the_exports_and_their_CSharp_structs()
    {
        string header = Artifacts.Path("include/hotpath.h");
        Assert.True(File.Exists(header), $"{header} is not built: run ./build.sh");
        var cpp = new StringBuilder(Prelude);
        int exports = 0, fields = 0, callbacks = 0;
        foreach (MethodInfo m in NativeAssembly.GetTypes()
                     .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
                     .Where(m => m.GetCustomAttribute<UnmanagedCallersOnlyAttribute>()?.EntryPoint != null)
                     .OrderBy(m => m.GetCustomAttribute<UnmanagedCallersOnlyAttribute>()!.EntryPoint))
        {
            string name = m.GetCustomAttribute<UnmanagedCallersOnlyAttribute>()!.EntryPoint!;
            cpp.AppendLine($"static_assert(sig(&{name}) == want({Expected(m)}), \"{name}: the prototype differs from {m.DeclaringType!.Name}.{m.Name}\");");
            exports++;
        }
        foreach (var (c, cs, names) in Structs)
        {
            Type t = Resolve(cs);
            FieldInfo[] f = t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).OrderBy(OffsetOf).ToArray();
            string[] n = names.Split(' ');
            Assert.True(f.Length == n.Length, $"{cs} has {f.Length} fields ({string.Join(", ", f.Select(x => x.Name))}); the table names {n.Length} for struct {c}");
            int size = CSizeOverride.GetValueOrDefault(c, SizeOf(t));
            cpp.AppendLine($"static_assert(sizeof(struct {c}) == {size}, \"struct {c}: size differs from {cs} ({size})\");");
            for (int i = 0; i < f.Length; i++)
            {
                if (n[i] == "-") continue;
                cpp.AppendLine($"static_assert(offsetof(struct {c}, {n[i]}) == {OffsetOf(f[i])}, \"{c}.{n[i]}: offset differs from {cs}.{f[i].Name} ({OffsetOf(f[i])})\");");
                fields++;
                Type ft = f[i].FieldType;
                if (!ft.IsFunctionPointer) continue;
                // A callback: its prototype too (the application's function is called through the C# type).
                var parts = new[] { Abi(ft.GetFunctionPointerReturnType()) }.Concat(ft.GetFunctionPointerParameterTypes().Select(Abi));
                cpp.AppendLine($"static_assert(sig(static_cast<decltype({c}::{n[i]})>(nullptr)) == want({string.Join(", ", parts.Select(p => $"A{{'{p.Kind}', {p.Size}}}"))}), " +
                    $"\"{c}.{n[i]}: the callback's prototype differs from {cs}.{f[i].Name}\");");
                callbacks++;
            }
        }
        string dir = Directory.CreateTempSubdirectory("hp-abi").FullName;
        try
        {
            string src = Path.Combine(dir, "abi_check.cpp");
            File.WriteAllText(src, cpp.ToString());
            var psi = new ProcessStartInfo("g++", $"-std=c++20 -fsyntax-only -Wall -Wextra -Werror -I{Path.GetDirectoryName(header)} {src}")
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            using Process p = Process.Start(psi)!;
            string errors = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            output.WriteLine($"{exports} prototypes, {Structs.Length} structs ({fields} field offsets, {callbacks} callback prototypes) checked");
            Assert.True(p.ExitCode == 0, "hotpath.h differs from the C# side:\n" +
                string.Join('\n', errors.Split('\n').Where(l => l.Contains("static assertion") || l.Contains("error")).Take(40)));
            Assert.True(exports >= 60, $"only {exports} exports found");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
