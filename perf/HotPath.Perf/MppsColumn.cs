using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace HotPath.Perf;

/// <summary>Millions of operations per second from the mean (every suite's operation is one packet, mbuf, object or
/// translation, through OperationsPerInvoke).</summary>
public sealed class MppsColumn : IColumn
{
    public string Id => "Mpps";
    public string ColumnName => "Mpps";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Million operations (packets) per second, 1000 / Mean(ns)";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        double? ns = summary[benchmarkCase]?.ResultStatistics?.Mean;
        return ns is > 0 ? (1000.0 / ns.Value).ToString("0.00") : "-";
    }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
}
