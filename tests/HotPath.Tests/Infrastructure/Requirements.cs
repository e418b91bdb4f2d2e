namespace HotPath.Tests.Infrastructure;

/// <summary>What the machine offers to tests that need real peers. CI installs all of it (scripts/setup.sh).</summary>
public static class Requirements
{
    public static bool IsRoot => HotPath.Engine.Interop.LibC.getuid() == 0;

    public static string? Which(string program)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            string p = Path.Combine(dir, program);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    public static bool HasTestpmd => Which("dpdk-testpmd") != null;

    public static long FreeHugepages
    {
        get
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("HugePages_Free:")) return long.Parse(line.Split(':')[1].Trim());
            return 0;
        }
    }

    public static string RepoRoot
    {
        get
        {
            string? dir = AppContext.BaseDirectory;
            while (dir != null && !File.Exists(Path.Combine(dir, "HotPath.sln"))) dir = Path.GetDirectoryName(dir);
            return dir ?? throw new InvalidOperationException("HotPath.sln not found above the test binaries");
        }
    }

    /// <summary>Why DPDK interop cannot run here, or null when it can.</summary>
    public static string? DpdkMissing =>
        !IsRoot ? "not root" : !HasTestpmd ? "dpdk-testpmd not installed" : FreeHugepages < 256 ? "fewer than 256 free hugepages" : null;
}

/// <summary>A fact that needs dpdk-testpmd, root and hugepages; skipped with a loud reason only where impossible.</summary>
public sealed class DpdkFactAttribute : FactAttribute
{
    public DpdkFactAttribute()
    {
        if (Requirements.DpdkMissing is { } why) Skip = $"!!! SKIPPED: DPDK interop impossible here: {why} (run scripts/setup.sh as root) !!!";
    }
}

/// <summary>A theory that needs dpdk-testpmd, root and hugepages.</summary>
public sealed class DpdkTheoryAttribute : TheoryAttribute
{
    public DpdkTheoryAttribute()
    {
        if (Requirements.DpdkMissing is { } why) Skip = $"!!! SKIPPED: DPDK interop impossible here: {why} (run scripts/setup.sh as root) !!!";
    }
}

/// <summary>A fact that needs free 2 MiB hugepages.</summary>
public sealed class HugepageFactAttribute : FactAttribute
{
    public HugepageFactAttribute()
    {
        if (Requirements.FreeHugepages < 16) Skip = "!!! SKIPPED: no free hugepages (run scripts/setup.sh as root) !!!";
    }
}

/// <summary>Where ./build.sh puts its output.</summary>
public static class Artifacts
{
    public static string Path(string relative) => System.IO.Path.Combine(Requirements.RepoRoot, "artifacts", relative);

    /// <summary>The path of a program ./build.sh builds; a test that needs it fails (not skips) when it is missing.</summary>
    public static string Program(string relative)
    {
        string path = Path(relative);
        Assert.True(File.Exists(path), $"{path} is not built: run ./build.sh (./test.sh builds before it tests)");
        return path;
    }
}
