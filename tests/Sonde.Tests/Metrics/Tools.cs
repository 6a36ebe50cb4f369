namespace Sonde.Tests.Metrics;

/// <summary>External programs the metrics tests run, found on PATH; a missing one fails the test with what to install.</summary>
public static class Tools
{
    public static string Require(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':'))
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path)) return path;
        }
        throw new InvalidOperationException(
            $"{name} is not installed: it comes with the Debian package 'prometheus' (`apt-get install -y prometheus`, or `make deps`)");
    }
}
