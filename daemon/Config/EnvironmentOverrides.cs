using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sonde.Config;

/// <summary>
/// Applies <c>SONDE_</c> environment variables to the parsed file (see
/// <see cref="ConfigFile"/> for the mapping), recording which nodes came from
/// which variable so validation messages can name it.
/// </summary>
internal static class EnvironmentOverrides
{
    public static readonly string[] Sections = ["targets", "metrics", "otlp", "tracing", "log"];

    private static readonly JsonDocumentOptions JsonOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    public static void Apply(JsonObject root, IReadOnlyDictionary<string, string> environment, Dictionary<JsonNode, string> origin)
    {
        // Sorted, so SONDE_TARGETS__0__... applies before SONDE_TARGETS__1__...
        foreach (var (name, value) in environment.Where(e => e.Key.StartsWith(ConfigFile.EnvironmentPrefix, StringComparison.Ordinal))
                     .OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            string rest = name[ConfigFile.EnvironmentPrefix.Length..];
            string[] segments = rest.Split("__");
            string section = segments[0].ToLowerInvariant();
            bool isSection = Sections.Contains(section);
            if (!isSection && segments.Length == 1) continue;   // SONDE_GOSERVERS and the like: not config
            if (!isSection)
                throw new ConfigException(section, $"no such section (set by {name}; sections: {string.Join(", ", Sections)})");
            if (segments.Any(s => s.Length == 0))
                throw new ConfigException("", $"{name}: empty segment in the name (levels are separated by exactly two underscores)");
            Set(root, segments, value, name, origin);
        }
    }

    private static void Set(JsonObject root, string[] segments, string value, string variable, Dictionary<JsonNode, string> origin)
    {
        JsonNode parent = root;
        string path = "";
        for (int i = 0; i < segments.Length; i++)
        {
            bool last = i == segments.Length - 1;
            string seg = segments[i];
            if (parent is JsonArray array)
            {
                if (!int.TryParse(seg, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                    throw new ConfigException(path, $"is an array: {variable} must address an entry by index, like SONDE_TARGETS__0__PORT");
                if (index > array.Count)
                    throw new ConfigException(path, $"has {array.Count} entries; {variable} may address entries 0..{array.Count} ({array.Count} adds one)");
                string childPath = $"{path}[{index}]";
                if (last)
                {
                    var node = Value(value, variable, childPath, origin);
                    if (index == array.Count) array.Add(node); else array[index] = node;
                    return;
                }
                if (index == array.Count) array.Add((JsonNode)new JsonObject()); // not Add<T>: that one needs reflection (trimming)
                parent = array[index] ?? (array[index] = new JsonObject());
                path = childPath;
            }
            else if (parent is JsonObject obj)
            {
                string key = path == "otlp.headers" ? seg.ToLowerInvariant().Replace('_', '-') : seg.ToLowerInvariant();
                string existing = obj.Select(p => p.Key).FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase)) ?? key;
                string childPath = ConfigBinder.Child(path, existing);
                if (last)
                {
                    if (value.Length == 0) obj.Remove(existing);
                    else obj[existing] = Value(value, variable, childPath, origin);
                    return;
                }
                var child = obj[existing];
                if (child is null)
                {
                    child = key == "targets" ? new JsonArray() : new JsonObject();
                    obj[existing] = child;
                }
                parent = child;
                path = childPath;
            }
            else throw new ConfigException(path, $"is {ConfigFile.Kind(parent.GetValueKind())}, so {variable} cannot set a key inside it");
        }
    }

    private static JsonNode? Value(string text, string variable, string path, Dictionary<JsonNode, string> origin)
    {
        if (text.Length == 0) return null;
        JsonNode node;
        if (text[0] is '[' or '{')
        {
            try
            {
                using var doc = JsonDocument.Parse(text, JsonOptions);
                node = ConfigFile.ToNode(doc.RootElement, path);
            }
            catch (JsonException e) { throw new ConfigException(path, $"{variable} is not valid JSON: {e.Message}"); }
        }
        else node = JsonValue.Create(text);
        Mark(node, variable, origin);
        return node;
    }

    private static void Mark(JsonNode? node, string variable, Dictionary<JsonNode, string> origin)
    {
        if (node is null) return;
        origin[node] = variable;
        if (node is JsonObject o) foreach (var p in o) Mark(p.Value, variable, origin);
        else if (node is JsonArray a) foreach (var item in a) Mark(item, variable, origin);
    }
}
