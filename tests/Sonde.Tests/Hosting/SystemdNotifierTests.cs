using Sonde.Hosting;

namespace Sonde.Tests.Hosting;

public sealed class SystemdNotifierTests
{
    [Fact]
    public void Sends_to_an_abstract_socket()
    {
        using var listener = new NotifyListener();
        Assert.StartsWith("@", listener.Address);
        using var n = new SystemdNotifier(listener.Address);
        Assert.True(n.IsActive);
        Assert.True(n.Notify("READY=1\nSTATUS=up"));
        Assert.Equal("READY=1\nSTATUS=up", listener.WaitFor(_ => true));
    }

    [Fact]
    public void Sends_to_a_socket_path()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sonde-notify-{Guid.NewGuid():N}.sock");
        using var listener = new NotifyListener(path);
        using var n = new SystemdNotifier(path);
        Assert.True(n.Notify("WATCHDOG=1"));
        Assert.Equal("WATCHDOG=1", listener.WaitFor(_ => true));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Without_NOTIFY_SOCKET_every_call_is_a_no_op(string? address)
    {
        using var n = new SystemdNotifier(address);
        Assert.False(n.IsActive);
        Assert.False(n.Notify("READY=1"));
        Assert.Null(n.UnsupportedReason);
    }

    [Fact]
    public void A_vsock_address_is_not_ours()
    {
        using var n = new SystemdNotifier("vsock:2:1234");
        Assert.False(n.IsActive);
        Assert.Contains("vsock:2:1234", n.UnsupportedReason);
    }

    [Fact]
    public void A_send_to_nowhere_fails_softly()
    {
        using var n = new SystemdNotifier($"@sonde-test-nobody-{Guid.NewGuid():N}");
        Assert.False(n.Notify("READY=1"));
        Assert.NotNull(n.LastError);
    }

    [Fact]
    public void Status_lines_are_single_lines() =>
        Assert.Equal("a b c", SystemdNotifier.StatusLine(" a\nb\r\nc\n"));
}
