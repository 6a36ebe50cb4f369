using Sonde.GoBinary;

namespace Sonde.Tracing;

/// <summary>
/// What Sonde will attach to one executable, decided the same way for
/// `sonde trace` and `sonde run`: the probe plan, the offsets its programs
/// read, and whether its requests get the breakdown. A binary whose breakdown
/// can't be had (its Go's wait reasons unknown, a scheduler function missing)
/// is still traced, for its latency, with a warning; never dropped for it.
/// </summary>
public sealed record TargetAnalysis(ProbePlan Plan, GoTargetConfig Config, string Source, bool Breakdown, bool LayoutUnverified, IReadOnlyList<string> Warnings)
{
    public static TargetAnalysis For(GoExecutable exe, EndProbeMode endMode, bool breakdown, bool calls = false)
    {
        ArgumentNullException.ThrowIfNull(exe);
        var warnings = new List<string>();
        if (breakdown && StructOffsets.BreakdownProblem(exe) is { } problem)
        {
            warnings.Add($"{exe.Path}: {problem}: tracing its latency with the breakdown off");
            breakdown = false;
        }
        ProbePlan plan;
        try
        {
            plan = ProbePlan.For(exe, endMode, breakdown, calls);
        }
        catch (TraceException e) when (breakdown && e.Reason == "breakdown_unavailable")
        {
            warnings.Add($"{e.Message.Replace(" (use --breakdown off)", "", StringComparison.Ordinal)}: tracing its latency with the breakdown off");
            breakdown = false;
            plan = ProbePlan.For(exe, endMode, breakdown, calls);
        }
        var (config, source) = StructOffsets.Resolve(exe, plan, breakdown);
        if (plan.Grpc && config.GrpcStreamMethod == 0)
        {
            // Its calls' methods can't be read: don't probe grpc-go at all.
            warnings.Add($"{exe.Path}: {source.Split(", ").Last()}");
            plan = plan.WithoutGrpc();
        }
        return new TargetAnalysis(plan, config, source, breakdown, StructOffsets.IsUnverified(exe), warnings);
    }
}
