using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Sonde.Config;

/// <summary>
/// Reads the configuration of `sonde run`: a JSON file in which comments
/// (<c>//</c>, <c>/* */</c>) and trailing commas are allowed (JSONC), then
/// <c>SONDE_</c> environment variables on top, then validation. Strict: an
/// unknown key, a key given twice, a value of the wrong type or out of range
/// is a <see cref="ConfigException"/> naming the key.
/// </summary>
/// <remarks>
/// Environment overrides: <c>SONDE_</c> + the key's path in upper case, with
/// <c>__</c> between levels and array indices as segments:
/// <c>SONDE_METRICS__LISTEN=0.0.0.0:9464</c>, <c>SONDE_LOG__LEVEL=debug</c>,
/// <c>SONDE_TARGETS__0__PORT=8080</c> (index = current count appends an entry),
/// <c>SONDE_OTLP__HEADERS__X_API_KEY=...</c> (under <c>headers</c>, <c>_</c>
/// becomes <c>-</c>: header <c>x-api-key</c>). A value starting with
/// <c>[</c> or <c>{</c> is JSON (<c>SONDE_TARGETS=[{"port":8080}]</c>);
/// anything else is taken as text and converted to the key's type; an empty
/// value removes the key, so its default applies. Only variables whose first
/// segment is a section (<c>TARGETS</c>, <c>METRICS</c>, <c>OTLP</c>,
/// <c>TRACING</c>, <c>LOG</c>), or that contain <c>__</c>, are overrides;
/// other <c>SONDE_</c> variables are left alone.
/// </remarks>
public static partial class ConfigFile
{
    public const string DefaultPath = "/etc/sonde/sonde.json";
    public const string EnvironmentPrefix = "SONDE_";

    /// <summary>The most a config file may be: it is read whole.</summary>
    private const long MaxBytes = 1 << 20;

    private static readonly JsonDocumentOptions JsonOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 32,
    };

    /// <summary>Reads <paramref name="path"/> with this process's environment.</summary>
    public static SondeConfig Load(string path) => Load(path, CurrentEnvironment());

    public static SondeConfig Load(string path, IReadOnlyDictionary<string, string> environment)
    {
        string text;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new ConfigException("", Directory.Exists(path) ? "is a directory, not a file" : "no such file");
            if (info.Length > MaxBytes) throw new ConfigException("", $"is {info.Length} bytes; a config file is at most {MaxBytes} bytes");
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException("", e is UnauthorizedAccessException ? "permission denied" : e.Message);
        }
        return Parse(text, environment);
    }

    /// <summary>Parses JSONC text; <paramref name="environment"/> (null: none) holds the overrides.</summary>
    public static SondeConfig Parse(string json, IReadOnlyDictionary<string, string>? environment = null)
    {
        JsonObject root;
        var fromEnvironment = new Dictionary<JsonNode, string>(ReferenceEqualityComparer.Instance);
        if (string.IsNullOrWhiteSpace(json)) root = new JsonObject();   // an empty file: every default
        else
        {
            try
            {
                using var doc = JsonDocument.Parse(json, JsonOptions);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new ConfigException("", $"the file must hold one JSON object, not {Kind(doc.RootElement.ValueKind)}");
                root = (JsonObject)ToNode(doc.RootElement, "");
            }
            catch (JsonException e) { throw new ConfigException("", DescribeSyntaxError(e)); }
        }
        if (environment is not null) EnvironmentOverrides.Apply(root, environment, fromEnvironment);
        return new ConfigBinder(fromEnvironment).Bind(root);
    }

    /// <summary>This process's environment variables.</summary>
    public static IReadOnlyDictionary<string, string> CurrentEnvironment()
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
            d[(string)e.Key] = (string?)e.Value ?? "";
        return d;
    }

    /// <summary>JsonElement → JsonNode, rejecting a property given twice (System.Text.Json would keep the last).</summary>
    internal static JsonNode ToNode(JsonElement e, string path)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var o = new JsonObject();
                foreach (var p in e.EnumerateObject())
                {
                    string child = ConfigBinder.Child(path, p.Name);
                    if (o.ContainsKey(p.Name)) throw new ConfigException(child, "given twice");
                    o[p.Name] = p.Value.ValueKind == JsonValueKind.Null ? null : ToNode(p.Value, child);
                }
                return o;
            case JsonValueKind.Array:
                var a = new JsonArray();
                int i = 0;
                foreach (var item in e.EnumerateArray())
                {
                    a.Add(item.ValueKind == JsonValueKind.Null ? null : ToNode(item, $"{path}[{i}]"));
                    i++;
                }
                return a;
            default:
                return JsonValue.Create(e.Clone())!;
        }
    }

    internal static string Kind(JsonValueKind k) => k switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    /// <summary>"line 3, column 12: ..." from System.Text.Json's message, whose positions are 0-based.</summary>
    private static string DescribeSyntaxError(JsonException e)
    {
        string text = PositionSuffix().Replace(e.Message, "").Trim();
        // System.Text.Json quotes the token it could not read, which for a file that
        // isn't JSON (YAML, say) is the whole file: keep one line of it, shortly.
        text = QuotedToken().Replace(text, m =>
        {
            string token = m.Groups[1].Value;
            string first = token.Split('\n')[0].TrimEnd('\r');
            return first.Length > 30 || first.Length < token.Length ? $"'{first[..Math.Min(first.Length, 30)]}...'" : m.Value;
        });
        if (text.Contains("invalid JSON literal", StringComparison.Ordinal)) text += " (the configuration is JSON, not YAML)";
        return e.LineNumber is { } line
            ? $"line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}: {text}"
            : text;
    }

    [GeneratedRegex(@"'([^']*)'")]
    private static partial Regex QuotedToken();

    [GeneratedRegex(@"\s*(Path: \S*\s*\|\s*)?LineNumber: \d+ \| BytePositionInLine: \d+\.?\s*$")]
    private static partial Regex PositionSuffix();
}
