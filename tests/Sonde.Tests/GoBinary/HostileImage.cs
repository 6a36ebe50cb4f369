using System.Diagnostics;
using Sonde.GoBinary;

namespace Sonde.Tests.GoBinary;

/// <summary>
/// Runs every parser Sonde applies to an executable over one (possibly
/// hostile) image, each on its own so that one failing does not hide the
/// next, and reports anything other than success or <see cref="GoBinaryException"/>,
/// and the slowest run.
/// </summary>
internal sealed class HostileImage
{
    private readonly List<string> _failures = [];

    public int Runs { get; private set; }
    /// <summary>Inputs from which functions and build information were read.</summary>
    public int Accepted { get; private set; }
    public TimeSpan Slowest { get; private set; }
    public string SlowestInput { get; private set; } = "";

    /// <summary>Parses <paramref name="image"/> every way; <paramref name="withExecutable"/> also runs GoExecutable.Load.</summary>
    public void Parse(byte[] image, string description, bool withExecutable = false)
    {
        var clock = Stopwatch.StartNew();
        Runs++;
        ElfFile? elf = Attempt(description, "ElfFile", () => ElfFile.Parse(image));
        if (elf is not null)
        {
            var pclntab = Attempt(description, "Pclntab", () => Pclntab.Parse(elf));
            if (pclntab is not null)
                Attempt(description, "MachineCode", () => Disassemble(elf, pclntab));
            var buildInfo = Attempt(description, "GoBuildInfo", () => GoBuildInfo.ParseOrVersion(elf, pclntab?.Magic ?? Pclntab.Magic120));
            Attempt(description, "DwarfStructs", () => QueryDwarf(elf));
            if (withExecutable)
                Attempt(description, "GoExecutable", () => GoExecutable.Load(image, "hostile"));
            if (pclntab is not null && buildInfo is not null)
                Accepted++;
        }
        var elapsed = clock.Elapsed;
        if (elapsed > Slowest)
            (Slowest, SlowestInput) = (elapsed, description);
    }

    private static object Disassemble(ElfFile elf, Pclntab pclntab)
    {
        var f = pclntab.Find("net/http.serverHandler.ServeHTTP") ?? (pclntab.Functions.Count > 0 ? pclntab.Functions[0] : null);
        if (f is null || f.Size > int.MaxValue)
            return pclntab;
        var code = elf.ReadVirtual(f.Entry, (int)f.Size);
        MachineCode.FindReturns(f, code);
        MachineCode.FindCallsTo(f, code, f.Entry);
        MachineCode.FirstEmulatableAfter(f, code, f.Entry);
        return MachineCode.ChooseEntryProbe(f, code, MachineCode.GoEntryRegisters);
    }

    private static object QueryDwarf(ElfFile elf)
    {
        var dwarf = DwarfStructs.TryLoad(elf);
        if (dwarf is null)
            return elf;
        dwarf.FieldOffset("runtime.g", "goid");
        dwarf.FieldOffset("net/http.Request", "Method");
        dwarf.Fields("net/url.URL");
        dwarf.StructSize("net/http.response");
        return dwarf;
    }

    private T? Attempt<T>(string description, string parser, Func<T> parse) where T : class
    {
        try
        {
            return parse();
        }
        catch (GoBinaryException e)
        {
            if (string.IsNullOrWhiteSpace(e.Message))
                _failures.Add($"{description}: {parser} threw a GoBinaryException without a message");
            return null;
        }
        catch (Exception e)
        {
            _failures.Add($"{description}: {parser} threw {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            return null;
        }
    }

    /// <summary>Fails the test when any parse threw something else, or took longer than <paramref name="limit"/>.</summary>
    public void AssertSafe(TimeSpan limit)
    {
        Assert.True(_failures.Count == 0, $"{_failures.Count} of {Runs} inputs escaped as other exceptions:\n" + string.Join("\n", _failures.Take(5)));
        Assert.True(Slowest < limit, $"slowest input took {Slowest.TotalMilliseconds:F0} ms: {SlowestInput}");
    }
}
