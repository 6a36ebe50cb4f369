using System.Globalization;
using System.Text.Json;
using Sonde.Tests.Support;

namespace Sonde.Tests.Hosting;

/// <summary>
/// packaging/sonde.service installed into a <see cref="SystemdNamespace"/> as
/// it ships, except: ExecStart runs the built sonde with a test config, or
/// sonde-testhost with the scripted pipeline (`--script DIR`) or the real one
/// with a stall hook (`--stall-file FILE`), WatchdogSec is 2 s, and a
/// drop-in lets the unit write DIR, restart after 100 ms, plus any extra lines.
/// The config and DIR live under out/test-systemd, visible inside and out.
/// </summary>
public sealed class SondeUnit : IDisposable
{
    private readonly SystemdNamespace _ns;

    /// <param name="realPipeline">run the real tracing pipeline (the product's sonde) instead of the scripted one.</param>
    /// <param name="stallFile">with <paramref name="realPipeline"/>: run it in sonde-testhost, its event loop stalled while this file exists.</param>
    public SondeUnit(SystemdNamespace ns, string name, string configJson, string extraDropIn = "", int readyDelayMs = 0, bool realPipeline = false,
        string? stallFile = null)
    {
        _ns = ns;
        Name = $"sonde-{ns.Id}-{name}.service";
        Directory = Path.Combine(Repo.Root, "out", "test-systemd", Name);
        if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, true);
        FakeDirectory = Path.Combine(Directory, "fake");
        System.IO.Directory.CreateDirectory(FakeDirectory);
        // The unit runs as a DynamicUser: let it write its event log here.
        if (OperatingSystem.IsLinux()) File.SetUnixFileMode(FakeDirectory, (UnixFileMode)0x1FF);
        ConfigPath = Path.Combine(Directory, "sonde.json");
        File.WriteAllText(ConfigPath, configJson);
        File.WriteAllText(Path.Combine(FakeDirectory, "ready-delay-ms"), readyDelayMs.ToString(CultureInfo.InvariantCulture));

        string exec = !realPipeline ? $"{BuiltSonde.TestHostPath} run --config {ConfigPath} --script {FakeDirectory}"
            : stallFile is not null ? $"{BuiltSonde.TestHostPath} run --config {ConfigPath} --stall-file {stallFile}"
            : $"{BuiltSonde.Path} run --config {ConfigPath}";
        var lines = File.ReadAllLines(Path.Combine(Repo.Root, "packaging", "sonde.service")).Select(l =>
            l.StartsWith("ExecStart=", StringComparison.Ordinal)
                ? $"ExecStart={exec}"
            : l.StartsWith("WatchdogSec=", StringComparison.Ordinal) ? "WatchdogSec=2s"
            : l);
        ns.InstallUnit(Name, string.Join('\n', lines) + "\n",
            $"[Service]\nReadWritePaths={FakeDirectory}\nRestartSec=100ms\n{SystemdNamespace.CheckoutVisibility(FakeDirectory)}{extraDropIn}\n");
    }

    public string Name { get; }
    public string Directory { get; }
    public string FakeDirectory { get; }
    public string ConfigPath { get; }

    public CommandResult Systemctl(string verb) => _ns.Systemctl(verb, Name);

    public string Show(string property) => _ns.Show(Name, property);

    /// <summary>The scripted pipeline's event log: (event, CLOCK_MONOTONIC µs, rest of the line).</summary>
    public IReadOnlyList<(string Event, long MonotonicUs, string Details)> Events()
    {
        string path = Path.Combine(FakeDirectory, "events");
        if (!File.Exists(path)) return [];
        return File.ReadAllLines(path).Select(l => l.Split(' ', 3))
            .Select(f => (f[0], long.Parse(f[1], CultureInfo.InvariantCulture), f.Length > 2 ? f[2] : "")).ToList();
    }

    public void Touch(string file, string content = "") => File.WriteAllText(Path.Combine(FakeDirectory, file), content);

    public void Remove(string file) => File.Delete(Path.Combine(FakeDirectory, file));

    /// <summary>The unit's journal entries from sonde (SYSLOG_IDENTIFIER=sonde or its stdout stream), as field maps.</summary>
    public List<Dictionary<string, string>> Journal(bool includeSystemd = false)
    {
        var r = _ns.Run("journalctl", "--no-pager", "-o", "json", "-u", Name);
        var entries = new List<Dictionary<string, string>>();
        foreach (var line in r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement.EnumerateObject()
                .Where(p => p.Value.ValueKind == JsonValueKind.String)
                .ToDictionary(p => p.Name, p => p.Value.GetString()!);
            if (includeSystemd || e.GetValueOrDefault("_PID") != "1") entries.Add(e);
        }
        return entries;
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails with <paramref name="what"/> and the unit's journal.</summary>
    public T WaitFor<T>(Func<T?> condition, string what, double seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            if (condition() is { } v && !v.Equals(false)) return v;
            Thread.Sleep(50);
        }
        string journal = string.Join("\n", Journal(includeSystemd: true).Select(e => $"[{e.GetValueOrDefault("PRIORITY")}] {e.GetValueOrDefault("MESSAGE")}"));
        throw new TimeoutException($"{Name}: {what} did not happen within {seconds}s. Journal:\n{journal}");
    }

    public void Dispose()
    {
        _ns.Systemctl("stop", Name);
        _ns.Systemctl("reset-failed", Name);
        try { System.IO.Directory.Delete(Directory, true); } catch (IOException) { }
    }
}
