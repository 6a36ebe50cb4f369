using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Sonde.Hosting;
using Sonde.Interop.LibC;

namespace Sonde.Tests.Hosting;

/// <summary>The journal's native format, the JOURNAL_STREAM check, and the fallback to stderr.</summary>
public sealed partial class JournalTests
{
    [Fact]
    public void Fields_without_newlines_are_NAME_equals_value()
    {
        var e = new JournalEntry();
        e.Add("MESSAGE", "hello");
        e.Add("PRIORITY", "6");
        Assert.Equal("MESSAGE=hello\nPRIORITY=6\n", Encoding.UTF8.GetString(e.Datagram.Span));
        e.Clear();
        e.Add("A", "é");
        Assert.Equal("A=é\n", Encoding.UTF8.GetString(e.Datagram.Span));
    }

    [Fact]
    public void Fields_with_newlines_carry_a_little_endian_length()
    {
        var e = new JournalEntry();
        e.Add("MESSAGE", "two\nlines");
        var bytes = e.Datagram.Span;
        Assert.Equal("MESSAGE\n", Encoding.ASCII.GetString(bytes[..8]));
        Assert.Equal(9UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..16]));
        Assert.Equal("two\nlines\n", Encoding.UTF8.GetString(bytes[16..]));
    }

    [Theory]
    [InlineData("TargetPid", "SONDE_TARGET_PID")]
    [InlineData("ConfigPath", "SONDE_CONFIG_PATH")]
    [InlineData("HTTPStatus", "SONDE_HTTP_STATUS")]
    [InlineData("watchdogSeconds", "SONDE_WATCHDOG_SECONDS")]
    [InlineData("Go1Version", "SONDE_GO1_VERSION")]
    [InlineData("a.b-c", "SONDE_A_B_C")]
    public void Property_names_become_valid_journal_fields(string property, string field) =>
        Assert.Equal(field, JournalEntry.FieldName(property));

    [Fact]
    public void Field_names_are_cut_to_64_characters() =>
        Assert.Equal(64, JournalEntry.FieldName(new string('a', 100)).Length);

    [Theory]
    [InlineData("Sonde.Hosting.PipelineHost", "daemon/Hosting/PipelineHost.cs")]
    [InlineData("Sonde.Config.ConfigFile", "daemon/Config/ConfigFile.cs")]
    [InlineData("Microsoft.Hosting.Lifetime", null)]
    public void CODE_FILE_comes_from_the_category(string category, string? file) =>
        Assert.Equal(file, JournalLoggerProvider.CodeFile(category));

    [Fact]
    public void Priorities_are_syslog_levels()
    {
        Assert.Equal([7, 7, 6, 4, 3, 2], new[] { LogLevel.Trace, LogLevel.Debug, LogLevel.Information, LogLevel.Warning, LogLevel.Error, LogLevel.Critical }
            .Select(JournalLoggerProvider.Priority));
    }

    [Fact]
    public void JOURNAL_STREAM_must_match_what_stderr_is()
    {
        Assert.True(FileIdentity.TryOf("/proc/self/fd/2", out var stderr));
        Assert.True(JournalStream.IsStderr($"{stderr.Device}:{stderr.Inode}"));
        Assert.False(JournalStream.IsStderr($"{stderr.Device}:{stderr.Inode + 1}"));
        Assert.False(JournalStream.IsStderr(null));
        Assert.False(JournalStream.IsStderr("8:12"));
        Assert.Null(JournalStream.Parse("12"));
        Assert.Null(JournalStream.Parse("a:b"));
        Assert.Equal(new FileIdentity(8, 12), JournalStream.Parse("8:12"));
    }

    [Fact]
    public void Entries_go_to_the_native_socket_with_structured_fields()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sonde-journal-{Guid.NewGuid():N}.sock");
        using var journald = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        journald.Bind(new UnixDomainSocketEndPoint(path));
        try
        {
            var stderr = new MemoryStream();
            using var provider = new JournalLoggerProvider(JournalOutput.Open(stderr, path));
            var log = provider.CreateLogger("Sonde.Hosting.PipelineHost");
            Attached(log, 4242, "/usr/bin/shop");

            var buffer = new byte[65536];
            journald.ReceiveTimeout = 5000;
            var fields = Fields(buffer.AsSpan(0, journald.Receive(buffer)));
            Assert.Equal("attached pid 4242 (/usr/bin/shop)", fields["MESSAGE"]);
            Assert.Equal("4", fields["PRIORITY"]);
            Assert.Equal("sonde", fields["SYSLOG_IDENTIFIER"]);
            Assert.Equal("4242", fields["SONDE_TARGET_PID"]);
            Assert.Equal("/usr/bin/shop", fields["SONDE_EXE"]);
            Assert.Equal("Attached", fields["SONDE_EVENT"]);
            Assert.Equal("77", fields["SONDE_EVENT_ID"]);
            Assert.Equal("daemon/Hosting/PipelineHost.cs", fields["CODE_FILE"]);
            Assert.False(fields.ContainsKey("SONDE__ORIGINAL_FORMAT_"));
            Assert.Equal(0, stderr.Length);

            log.LogError(new InvalidOperationException("boom"), "it broke");
            fields = Fields(buffer.AsSpan(0, journald.Receive(buffer)));
            Assert.StartsWith("it broke\nSystem.InvalidOperationException: boom", fields["MESSAGE"]);
            Assert.Equal("System.InvalidOperationException", fields["SONDE_EXCEPTION"]);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Without_journald_entries_go_to_stderr_with_a_priority_on_every_line()
    {
        var stderr = new MemoryStream();
        using var provider = new JournalLoggerProvider(JournalOutput.Open(stderr, "/nonexistent/journal.sock"));
        var log = provider.CreateLogger("Sonde.Test");
        log.LogWarning("first\nsecond");
        log.LogCritical("down");
        Assert.Equal("<4>first\n<4>second\n<2>down\n", Encoding.UTF8.GetString(stderr.ToArray()));
    }

    [Fact]
    public void An_entry_too_big_for_a_datagram_falls_back_to_stderr()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sonde-journal-{Guid.NewGuid():N}.sock");
        using var journald = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        journald.Bind(new UnixDomainSocketEndPoint(path));
        try
        {
            var stderr = new MemoryStream();
            using var provider = new JournalLoggerProvider(JournalOutput.Open(stderr, path));
            provider.CreateLogger("Sonde.Test").LogInformation("{Blob}", new string('x', 16 << 20));
            Assert.StartsWith("<6>xxxx", Encoding.UTF8.GetString(stderr.ToArray()));
        }
        finally { File.Delete(path); }
    }

    [LoggerMessage(77, LogLevel.Warning, "attached pid {TargetPid} ({Exe})")]
    private static partial void Attached(ILogger logger, int targetPid, string exe);

    /// <summary>Decodes a native-protocol datagram.</summary>
    private static Dictionary<string, string> Fields(ReadOnlySpan<byte> d)
    {
        var fields = new Dictionary<string, string>();
        while (d.Length > 0)
        {
            int nl = d.IndexOf((byte)'\n');
            int eq = d[..nl].IndexOf((byte)'=');
            if (eq >= 0)
            {
                fields[Encoding.ASCII.GetString(d[..eq])] = Encoding.UTF8.GetString(d[(eq + 1)..nl]);
                d = d[(nl + 1)..];
            }
            else
            {
                string name = Encoding.ASCII.GetString(d[..nl]);
                int len = (int)BinaryPrimitives.ReadUInt64LittleEndian(d[(nl + 1)..]);
                fields[name] = Encoding.UTF8.GetString(d.Slice(nl + 9, len));
                d = d[(nl + 9 + len + 1)..];
            }
        }
        return fields;
    }
}
