using Sonde.Config;

namespace Sonde.Tests.Config;

public sealed class PathGlobTests
{
    [Theory]
    [InlineData("/usr/bin/shop", "/usr/bin/shop", true)]
    [InlineData("/usr/bin/shop", "/usr/bin/shop2", false)]
    [InlineData("/usr/bin/shop*", "/usr/bin/shop-v2", true)]
    [InlineData("/usr/bin/shop*", "/usr/bin/shop/x", false)]     // * stays within a segment
    [InlineData("/opt/*/bin/api", "/opt/v1/bin/api", true)]
    [InlineData("/opt/*/bin/api", "/opt/a/b/bin/api", false)]
    [InlineData("/opt/**/api", "/opt/a/b/bin/api", true)]        // ** crosses segments
    [InlineData("/srv/app?", "/srv/app1", true)]
    [InlineData("/srv/app?", "/srv/app12", false)]
    [InlineData("/srv/app[0-9]", "/srv/app7", true)]
    [InlineData("/srv/app[0-9]", "/srv/appx", false)]
    [InlineData("/srv/app[!0-9]", "/srv/appx", true)]
    [InlineData("/srv/app[!0-9]", "/srv/app/", false)]
    [InlineData("/srv/a.b", "/srv/aXb", false)]                  // regex characters are literal
    [InlineData("/srv/a+(b)", "/srv/a+(b)", true)]
    [InlineData("/Usr/bin/x", "/usr/bin/x", false)]              // case-sensitive, like the file system
    public void Matches_like_a_shell(string pattern, string path, bool matches) =>
        Assert.Equal(matches, PathGlob.Parse(pattern).IsMatch(path));

    [Theory]
    [InlineData("/srv/[ab")]
    [InlineData("/srv/[]")]
    public void Malformed_patterns_say_why(string pattern) =>
        Assert.Throws<ArgumentException>(() => PathGlob.Parse(pattern));
}
