using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.InteropServices;

namespace HotPath.Tests.Native;

/// <summary>
/// An exception that escapes an [UnmanagedCallersOnly] method ends the host process, so every export of libhotpath
/// must turn exceptions into hp_last_error and its failure value (issue 12, item 5). The contract, read from the IL of
/// HotPath.Native: an export either catches <see cref="Exception"/> in a try that starts at its first instruction and
/// ends with the method, or it does nothing but hand its body to such a guarded method (<c>ExportGuard.Run</c>, or a
/// file's own helper such as the inflight exports'): the only other calls it may make construct its lambda.
/// </summary>
public sealed class ExportGuardTests
{
    private static readonly Assembly Native = Assembly.Load("HotPath.Native");
    private static readonly Type Guard = Native.GetType("HotPath.Native.Interop.ExportGuard", throwOnError: true)!;

    private static IEnumerable<MethodInfo> Exports() =>
        Native.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.GetCustomAttribute<UnmanagedCallersOnlyAttribute>() != null);

    [Fact]
    public void Every_export_catches_from_its_first_instruction_or_hands_its_body_to_ExportGuard()
    {
        var problems = new List<string>();
        int exports = 0, guarded = 0;
        foreach (MethodInfo m in Exports())
        {
            exports++;
            if (CatchesEverything(m)) continue;
            List<MethodBase> calls = Calls(m).ToList();
            bool handsOver = calls.Any(IsGuarded) && calls.All(c => IsGuarded(c) || IsLambdaCtor(c));
            if (handsOver) guarded++;
            else problems.Add($"{m.DeclaringType!.Name}.{m.Name}: no try/catch (Exception) over its whole body, and it calls "
                + string.Join(", ", calls.Select(c => $"{c.DeclaringType?.Name}.{c.Name}")));
        }
        foreach (MethodInfo g in Guard.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
            if (!CatchesEverything(g)) problems.Add($"ExportGuard.{g.Name} does not catch over its whole body");

        Assert.True(exports >= 60, $"only {exports} exports found: is the reflection looking at the right assembly?");
        Assert.True(guarded > 0, "no export hands its body over: the second rule went unchecked");
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    /// <summary>A try starting at IL offset 0 with a catch of System.Exception, whose handler ends the method.</summary>
    private static bool CatchesEverything(MethodInfo m)
    {
        if (m.IsGenericMethod) m = m.GetGenericMethodDefinition();
        MethodBody body = m.GetMethodBody()!;
        byte[] il = body.GetILAsByteArray()!;
        return body.ExceptionHandlingClauses.Any(c =>
            c.Flags == ExceptionHandlingClauseOptions.Clause && c.CatchType == typeof(Exception)
            && c.TryOffset == 0 && OnlyReturnsFrom(il, c.HandlerOffset + c.HandlerLength));
    }

    /// <summary>True when the IL from <paramref name="at"/> on only loads the result local and returns.</summary>
    private static bool OnlyReturnsFrom(byte[] il, int at)
    {
        while (at < il.Length)
        {
            byte op = il[at];
            if (op is >= 0x06 and <= 0x09 or 0x2A) at += 1;   // ldloc.0..3, ret
            else if (op == 0x11) at += 2;                    // ldloc.s N
            else return false;
        }
        return true;
    }

    private static bool IsGuarded(MethodBase c) => c is MethodInfo mi && mi.Module == Native.ManifestModule && CatchesEverything(mi);

    /// <summary>The constructor of a delegate or of the compiler's closure class.</summary>
    private static bool IsLambdaCtor(MethodBase c) => c.IsConstructor
        && (typeof(Delegate).IsAssignableFrom(c.DeclaringType) || c.DeclaringType!.IsDefined(typeof(System.Runtime.CompilerServices.CompilerGeneratedAttribute)));

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>Every method the IL of <paramref name="m"/> calls or constructs (call, callvirt, newobj).</summary>
    private static IEnumerable<MethodBase> Calls(MethodInfo m)
    {
        byte[] il = m.GetMethodBody()!.GetILAsByteArray()!;
        for (int i = 0; i < il.Length;)
        {
            short value = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            OpCode op = OpCodesByValue[value];
            i += op.Size;
            int operand = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
            if (op == OpCodes.Call || op == OpCodes.Callvirt || op == OpCodes.Newobj)
                yield return m.Module.ResolveMethod(BitConverter.ToInt32(il, i), m.DeclaringType!.GetGenericArguments(), null)!;
            i += operand;
        }
    }
}
