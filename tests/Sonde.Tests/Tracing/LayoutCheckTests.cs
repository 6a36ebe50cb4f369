using System.Text;
using Sonde.Tracing;

namespace Sonde.Tests.Tracing;

/// <summary>The check of an unverified layout: what it lets through, and what stops it.</summary>
public sealed class LayoutCheckTests
{
    private static RequestView View(int pid, string method, string path, int status) =>
        new(pid, pid + 1, 7, 1_000, 50_000, status, Encoding.ASCII.GetBytes(method), Encoding.ASCII.GetBytes(path), []);

    [Fact]
    public void Sane_requests_pass_after_the_first_eight_of_each_process()
    {
        var check = new LayoutCheck();
        for (int i = 0; i < LayoutCheck.Requests; i++)
        {
            Assert.False(check.Passed(10));
            Assert.Null(check.Observe(View(10, i % 2 == 0 ? "GET" : "POST", $"/users/{i}", i == 3 ? 0 : 200)));
        }
        Assert.True(check.Passed(10));
        Assert.False(check.Passed(11));
        // After the check, nothing is looked at any more.
        Assert.Null(check.Observe(View(10, "\u0001", "garbage", 9999)));
    }

    [Theory]
    [InlineData("get", "/a", 200, "read method 'get'")]
    [InlineData("\u0001\u0002", "/a", 200, "read method '??'")]
    [InlineData("GET", "users", 200, "read path 'users'")]
    [InlineData("GET", "", 200, "read path ''")]
    [InlineData("GET", "/a", 42, "read status 42")]
    [InlineData("GET", "/a", 600, "read status 600")]
    public void A_request_that_reads_wrong_fails_the_check(string method, string path, int status, string expected)
    {
        var check = new LayoutCheck();
        Assert.Null(check.Observe(View(10, "GET", "/ok", 200)));
        var problem = check.Observe(View(10, method, path, status));
        Assert.NotNull(problem);
        Assert.StartsWith("the newest known Go layout does not fit this binary: request 2 of pid 10 ", problem);
        Assert.EndsWith(expected, problem);
    }

    [Fact]
    public void Eight_requests_with_no_status_at_all_fail_it()
    {
        var check = new LayoutCheck();
        for (int i = 0; i < LayoutCheck.Requests - 1; i++)
            Assert.Null(check.Observe(View(10, "GET", "/", 0)));
        Assert.EndsWith("the first 8 requests of pid 10 all read status 0", check.Observe(View(10, "GET", "/", 0)));
    }
}
