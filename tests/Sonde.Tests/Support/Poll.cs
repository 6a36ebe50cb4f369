using System.Diagnostics;

namespace Sonde.Tests.Support;

/// <summary>Waiting on a `sonde run` from outside: its endpoints, and conditions on what they serve.</summary>
public static class Poll
{
    /// <summary>The body at <paramref name="url"/>, or null while nothing answers there (yet).</summary>
    public static async Task<string?> TryGetAsync(HttpClient http, string url)
    {
        try { return await http.GetStringAsync(url); }
        catch (HttpRequestException) { return null; }
        catch (TaskCanceledException) { return null; }
    }

    /// <summary>Checks <paramref name="condition"/> every 100 ms until it holds; after <paramref name="timeout"/> (20 s), fails with what sonde said.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, SondeRun sonde, TimeSpan? timeout = null)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < (timeout ?? TimeSpan.FromSeconds(20)))
        {
            if (await condition()) return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"{what} did not happen; sonde said:\n{sonde.Stderr}\n{sonde.Stdout}");
    }
}
