namespace Sonde.Tests.Hosting;

/// <summary>How a command run inside a <see cref="SystemdNamespace"/> ended.</summary>
public sealed record CommandResult(int ExitCode, string Stdout, string Stderr);
