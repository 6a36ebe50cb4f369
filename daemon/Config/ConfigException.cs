namespace Sonde.Config;

/// <summary>
/// The configuration is wrong. <see cref="Exception.Message"/> starts with the
/// key at fault, as a JSON path (<c>targets[2].port: must be 1..65535, got 70000</c>),
/// and names the environment variable when the value came from one.
/// </summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string key, string problem) : base(key.Length == 0 ? problem : $"{key}: {problem}")
    {
        Key = key;
        Problem = problem;
    }

    public ConfigException(string message, Exception inner) : base(message, inner)
    {
        Key = "";
        Problem = message;
    }

    /// <summary>The JSON path of the key at fault ("" for the file as a whole).</summary>
    public string Key { get; }

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; }
}
